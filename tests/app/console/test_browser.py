"""The staff console in a real browser (Playwright driving Debian's Chromium): each flow as
the person would do it, axe-core on every page, the keyboard alone, screenshots at 1366×768.

The module serves its own application, on its own SQLite file migrated for it, from a thread
(so the pages and the test's own API calls share nothing with the other tests' rolled-back
transactions). Without ``/usr/bin/chromium`` (``make test`` installs it) the module is skipped.
Screenshots go to a temporary folder printed at the end of the run (``CONSOLE_SCREENSHOTS``
to choose it).
"""
from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.support.database import run_migrations
from tests.support.factories import STAFF_PASSWORD
from tests.support.workflow import add_residence, build_world, report

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).resolve().parents[2] / "support" / "vendor" / "axe.min.js"
VIEWPORT = {"width": 1366, "height": 768}
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Chromium missing (make test installs it)")]


@pytest.fixture(scope="module")
def shots() -> Path:
    folder = Path(os.environ.get("CONSOLE_SCREENSHOTS") or tempfile.mkdtemp(prefix="console-screenshots-"))
    folder.mkdir(parents=True, exist_ok=True)
    yield folder
    print(f"\nconsole screenshots: {folder}")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Its own database and application, served on a free port from a thread."""
    from werkzeug.serving import make_server

    from app import create_app
    from app.clock import FrozenClock
    from app.config import load_settings
    from app.db import Database
    from tests.conftest import seed_reference_data
    from tests.engines.workflow.scenario import SCENARIO

    url = f"sqlite:///{tmp_path_factory.mktemp('browser') / 'console.db'}"
    run_migrations(url)
    database = Database(url)
    seed_reference_data(database)
    settings = load_settings({"APP_ENV": "test", "DATABASE_URL": url, "PASSWORD_HASH_PROFILE": "fast",
                              "RATELIMIT_ENABLED": "0", "CONSOLE_POLL_SECONDS": "1", "ENABLE_DEV_ROUTES": "1",
                              "UPLOAD_DIR": str(tmp_path_factory.mktemp("uploads"))})
    clock = FrozenClock(datetime.now(UTC))  # the browser's countdowns read the real time
    app = create_app(settings, database=database, clock=clock, extra_scenarios=(SCENARIO,))
    with app.app_context():
        session = database.new_session()
        wf = build_world(session, clock)
        committee = wf.world.committees[0]
        from tests.support.factories import make_resident, make_staff

        wf.accounts["committee"] = make_staff(session, committee, "committee")
        dora = make_resident(session, name="测试多拉", phone="13912340000")
        claim = add_residence(session, dora, wf.world.community, room="501", status="claimed",
                              valid_from=date(2024, 1, 1))
        session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"base": f"http://127.0.0.1:{server.server_port}", "app": app, "wf": wf, "session": session,
           "claim": claim.id, "clock": clock}
    server.shutdown()
    session.close()
    database.dispose()


@pytest.fixture(scope="module")
def browser_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser_instance, live):
    context = browser_instance.new_context(viewport=VIEWPORT, locale="zh-CN", accept_downloads=True)
    context.set_default_timeout(8000)
    pg = context.new_page()
    yield pg
    context.close()


def file_ticket(live, text: str = "厨房水管漏水") -> dict[str, Any]:
    with live["app"].app_context():
        return report(live["app"].test_client(), live["wf"], text=text)


def sign_in(page, live, who: str) -> None:
    page.goto(live["base"] + "/console/login")
    page.fill("#username", live["wf"].accounts[who].username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))


def no_serious_violations(page) -> None:
    """axe-core (vendored) on the page as it is: no serious or critical violation."""
    page.evaluate(AXE.read_text() + "\n;undefined")  # through the debugger: the page's CSP is not bypassed for it
    result = page.evaluate("async () => (await axe.run(document)).violations"
                           ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length}))")
    bad = [v for v in result if v["impact"] in ("serious", "critical")]
    assert not bad, (page.url, bad)


FOCUSED = """() => { const el = document.activeElement; const s = getComputedStyle(el);
    return [(el.textContent || "").trim(), s.outlineStyle, s.outlineWidth]; }"""


def focus_on(page, text: str) -> None:
    """Tab (nothing else) until the element whose text is ``text`` has the focus, and see that
    the focus ring is drawn."""
    for _ in range(80):
        page.keyboard.press("Tab")
        label, style, width = page.evaluate(FOCUSED)
        if label == text:
            assert style == "solid" and width not in ("0px", ""), (style, width)
            return
    pytest.fail(f"{text!r} never got the focus")


def test_a_manager_sees_a_new_ticket_appear_opens_it_with_the_keyboard_and_acknowledges_then_assigns(
        page, live, shots):
    first = file_ticket(live)
    sign_in(page, live, "manager_a")
    no_serious_violations(page)
    page.goto(live["base"] + "/console/w/wf-test/queue")
    assert page.locator(f"text={first['number']}").is_visible()
    new = file_ticket(live, "楼道灯不亮")
    page.locator(f"text={new['number']}").wait_for(timeout=5000)  # polled in, no reload
    no_serious_violations(page)
    page.screenshot(path=str(shots / "queue.png"))
    focus_on(page, first["number"])  # the queue keeps refreshing meanwhile (every second here)
    with page.expect_response(re.compile(r".*/queue/rows.*")):
        pass  # a refresh replaces the rows under the focus...
    page.wait_for_timeout(300)
    assert page.evaluate(FOCUSED)[0] == first["number"]  # ...which stays on the same ticket
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/console/tickets/{first['id']}$"))
    no_serious_violations(page)
    focus_on(page, "受理")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r".*done=acknowledge$"))
    assert "已受理" in page.inner_text("h1")
    page.select_option("select[name=assignee_account_id]", str(live["wf"].id("tech_a")))
    page.click("#do-assign")
    page.wait_for_url(re.compile(r".*done=assign$"))
    assert "已派单" in page.inner_text("h1")
    page.screenshot(path=str(shots / "ticket.png"), full_page=True)


def test_a_technician_resolves_with_a_photo_on_a_phone(browser_instance, live, shots, tmp_path):
    ticket = file_ticket(live, "卫生间漏水")
    with live["app"].app_context():
        client = live["app"].test_client()
        resp = client.post(f"/api/v1/wf-test/tickets/{ticket['id']}/assign", headers=live["wf"].token("manager_a"),
                           json={"assignee_account_id": live["wf"].id("tech_a")})
        assert resp.status_code == 200, resp.get_json()
    context = browser_instance.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    try:
        sign_in(page, live, "tech_a")
        page.goto(live["base"] + "/console/w/wf-test/queue?assignee=me")
        page.click(f"a:has-text('{ticket['number']}')")
        photo = tmp_path / "done.jpg"
        Image.new("RGB", (80, 60), (30, 120, 200)).save(photo, "JPEG")
        page.fill("#a-resolve-n", "已更换密封圈")
        page.set_input_files("#a-resolve-ph", str(photo))
        page.click("#do-resolve")
        page.wait_for_url(re.compile(r".*done=resolve$"))
        assert "已处理" in page.inner_text("h1")
        assert page.locator(".photos img").count() == 1
        no_serious_violations(page)
        page.screenshot(path=str(shots / "technician-phone.png"), full_page=True)
    finally:
        context.close()


def responded(live, who: str, reporter: str, minutes: int) -> None:
    """A ticket of ``reporter``'s company, acknowledged by ``who`` ``minutes`` after it was filed."""
    from datetime import timedelta

    app, wf, clock = live["app"], live["wf"], live["clock"]
    with app.app_context():
        client = app.test_client()
        ticket = report(client, wf, reporter, text="楼道漏水")
        clock.set(clock.now() + timedelta(minutes=minutes))
        resp = client.post(f"/api/v1/wf-test/tickets/{ticket['id']}/acknowledge", headers=wf.token(who), json={})
        assert resp.status_code == 200, resp.get_json()
        clock.set(clock.now() - timedelta(minutes=minutes))


def test_a_supervisor_opens_the_chart_and_downloads_the_export(page, live, shots):
    for who, reporter, minutes in (("manager_a", "alice", 6), ("manager_a", "alice2", 14), ("manager_a", "alice", 25),
                                   ("manager_b", "bob", 9), ("manager_b", "bob", 41)):
        responded(live, who, reporter, minutes)
    sign_in(page, live, "supervisor")
    page.goto(live["base"] + "/console/w/wf-test/stats")
    assert page.locator("svg[role=img]").is_visible()
    no_serious_violations(page)
    page.screenshot(path=str(shots / "stats.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#stats-csv")
    assert "首次响应中位数" in Path(download.value.path()).read_text(encoding="utf-8-sig")
    page.goto(live["base"] + "/console/w/wf-test/escalated")
    no_serious_violations(page)


def test_a_committee_member_verifies_a_residence(page, live, shots):
    sign_in(page, live, "committee")
    page.goto(live["base"] + "/console/residences")
    row = page.locator(f"#residence-{live['claim']}")
    assert "139****0000" in row.inner_text()
    no_serious_violations(page)
    page.screenshot(path=str(shots / "residences.png"), full_page=True)
    row.locator("a:has-text('查看完整信息')").click()
    page.fill("#reason", "核实住户身份")
    no_serious_violations(page)
    page.click("button:has-text('查看并记录')")
    assert "13912340000" in page.inner_text("main")
    page.go_back()
    page.go_back()
    row = page.locator(f"#residence-{live['claim']}")
    row.locator("button[value=verify]").click()
    page.wait_for_url(re.compile(r".*done=verify$"))
    assert page.locator(f"#residence-{live['claim']}").count() == 0


def test_an_administrator_changes_an_sla_policy_and_reads_the_other_pages(page, live):
    sign_in(page, live, "admin")
    for path in ("/console/staff", "/console/admin/health", "/console/admin/audit", "/console/moderation"):
        page.goto(live["base"] + path)
        no_serious_violations(page)
    page.goto(live["base"] + "/console/sla-policies")
    no_serious_violations(page)
    page.select_option("#scenario", "wf-test")
    page.fill("#response_minutes", "40")
    page.click("button:has-text('保存新策略')")
    assert "已保存" in page.inner_text("main")


def test_another_companys_member_gets_the_404_page(page, live):
    ticket = file_ticket(live)
    sign_in(page, live, "manager_b")
    resp = page.goto(live["base"] + f"/console/tickets/{ticket['id']}")
    assert resp.status == 404 and "页面不存在" in page.inner_text("h1")
    no_serious_violations(page)


def test_a_forged_csrf_token_is_refused(page, live):
    ticket = file_ticket(live)
    sign_in(page, live, "manager_a")
    page.goto(live["base"] + f"/console/tickets/{ticket['id']}")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    with page.expect_response(re.compile(r".*/acknowledge$")) as answer:
        page.click("#do-acknowledge")
    assert answer.value.status == 400
    assert "页面已过期" in page.inner_text("main")


def test_a_session_replayed_after_logout_is_refused(browser_instance, page, live):
    sign_in(page, live, "manager_a")
    cookies = page.context.cookies()
    page.click("button:has-text('退出')")
    page.wait_for_url(re.compile(r".*/console/login$"))
    other = browser_instance.new_context(viewport=VIEWPORT)
    try:
        other.add_cookies(cookies)
        replay = other.new_page()
        replay.goto(live["base"] + "/console/")
        assert "/console/login" in replay.url
        no_serious_violations(replay)
    finally:
        other.close()




def test_an_operator_acknowledges_an_sos_alarm_from_the_board(page, live, shots):
    """The call centre's board shows the new alarm with its countdown; the operator opens it
    and acknowledges (the dispatch engine's accept): the page shows the trail."""
    from tests.scenarios.elderly_sos.conftest import build as build_sos

    app = live["app"]
    with app.app_context():
        sos = build_sos(None, live["session"], live["clock"], app.test_client())
        sos.on_duty("op1")
        alarm = sos.press()
    page.goto(live["base"] + "/console/login")
    page.fill("#username", sos.accounts["op1"].username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.click("text=应急呼叫 · 呼叫台")
    row = page.locator(f"#alarm-{alarm['id']}")
    row.wait_for()
    # the script fills the countdown once the rows are in: wait for it rather than race it
    expect(row.locator(".countdown")).to_have_text(re.compile(r"^(剩余|超时) "), timeout=5000)
    no_serious_violations(page)
    page.screenshot(path=str(shots / "sos-board.png"))
    row.locator("a").click()
    page.click("#do-acknowledge")
    page.wait_for_url(re.compile(r".*done=acknowledge"))
    assert "已应答" in page.locator("h1").inner_text() and "呼叫中心应答" in page.locator(".trail").inner_text()
    no_serious_violations(page)
    page.screenshot(path=str(shots / "sos-alarm.png"))
    page.goto(live["base"] + "/console/sos/figures")
    no_serious_violations(page)


def test_an_administrator_reads_the_escalation_chains(page, live):
    sign_in(page, live, "admin")
    for path in ("/console/escalation-policies", "/console/sos/escalation"):
        page.goto(live["base"] + path)
        assert "第 1 级" in page.locator("ol.chain").first.inner_text()
        no_serious_violations(page)


def test_an_operator_opens_the_reconciliation_differences_and_its_car_parks_occupancy(page, live, shots):
    """A car-park operator paid through WeChat Pay: the reconciliation found a payment the bill
    lacks; the operator opens the differences from the navigation, then its car parks' free
    spaces as the counter reported them; axe on each of its money and parking pages."""
    from datetime import timedelta

    from app.fields import CST
    from scenarios.engines.ledger import payments, reconcile
    from scenarios.parking.models import PkLot
    from tests.scenarios.parking.conftest import World, _device, _lot
    from tests.support.factories import make_org, make_resident, make_staff

    app, session, clock = live["app"], live["session"], live["clock"]
    with app.app_context():
        operator = make_org(session, "parking_operator", name="金山停车运营")
        w = World()
        lot: PkLot = _lot(session, clock, operator, "lot-browser", 30.7420, 121.3430)
        _device(session, clock, w, operator, lot, "sensor", "occupancy", "counter")
        manager = make_staff(session, operator, "manager")
        payer = make_resident(session, name="付款人")
        intent = payments.create(session, scenario="parking", payer_person_id=payer.person_id,
                                 payee_org_id=operator.id, amount_fen=1200, description="停车费", now=clock.now(),
                                 provider="wechatpay")
        payments.mark_paid(session, out_trade_no=intent.out_trade_no, amount_fen=1200,
                           provider_txn_id="t" + intent.out_trade_no, now=clock.now())
        found = reconcile.reconcile(session, bill=[], day=clock.now().astimezone(CST).date(), now=clock.now())
        session.commit()
        resp = app.test_client().put("/api/v1/parking/lots/lot-browser/occupancy", json={"occupied": 70},
                                     headers=w.h["counter"])
        assert resp.status_code == 200, resp.get_json()
    difference = next(d.id for d in found if d.out_trade_no == intent.out_trade_no)
    page.goto(live["base"] + "/console/login")
    page.fill("#username", manager.username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.click("nav >> text=收支 · 对账差异")
    row = page.locator(f"#discrepancy-{difference}")
    assert "本系统有、微信无" in row.inner_text() and "12.00" in row.inner_text()
    no_serious_violations(page)
    page.screenshot(path=str(shots / "ledger-differences.png"), full_page=True)
    page.click("nav >> text=停车 · 车场余位")
    lot_row = page.locator("#lot-lot-browser")
    assert "30 / 100" in lot_row.inner_text() and "有空位" in lot_row.inner_text()
    no_serious_violations(page)
    page.screenshot(path=str(shots / "parking-lots.png"))
    day = (clock.now().astimezone(CST) - timedelta(days=1)).date().isoformat()
    for path in (f"/console/ledger/daily?date_from={day}", "/console/parking/reservations",
                 "/console/parking/contracts", "/console/parking/stays", "/console/parking/figures"):
        page.goto(live["base"] + path)
        no_serious_violations(page)


def test_an_administrator_previews_and_saves_a_new_sos_chain(page, live):
    """The form starts from the current chain; the contacts' step 90 s instead of 2 minutes is
    explained before it can be saved, then saved as version 1 (the other steps unchanged)."""
    sign_in(page, live, "admin")
    page.goto(live["base"] + "/console/sos/escalation")
    page.fill("#s1_after", "90")
    page.get_by_role("button", name="预览效果").click()
    preview = page.locator("#h-preview + ol.chain").inner_text()
    assert "第 2 级（contacts）：第 1 级后 90 秒通知老人的紧急联系人" in preview
    no_serious_violations(page)
    page.fill("#reason", "家属反映两分钟太久")
    page.get_by_role("button", name="按预览保存为新版本").click()
    assert "已保存第 1 版" in page.locator("[role=status]").first.inner_text()
    assert "第 1 级后 90 秒" in page.locator("ol.chain").first.inner_text()


def test_the_city_operations_centre_reroutes_a_report_to_a_bureau(page, live, shots):
    """区城运中心's routing desk: a report routed by category to 区绿化市容局 is re-routed to 区生态环境局
    with a note (the API's transfer); the desk shows its new owner."""
    from tests.scenarios.city_report.test_city_report import clear, file
    from tests.support.reports import CITY_OPS, ECOLOGY, GREENING, people

    app = live["app"]
    with app.app_context():
        city = people(live["session"], live["clock"], staff={"ops_staff": (CITY_OPS, "staff"),
                                                             "green_sup": (GREENING, "supervisor")},
                      residents=["alice"])
        client = app.test_client()
        tid = file(client, city, category="市容环境", text="河道边有人焚烧垃圾，浓烟很大")["id"]
        clear(client, city, tid)
    page.goto(live["base"] + "/console/login")
    page.fill("#username", city.accounts["ops_staff"].username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.click("text=随申拍 · 分拨")
    row = page.locator(f"#routed-{tid}")
    expect(row).to_contain_text("绿化和市容管理局")
    no_serious_violations(page)
    page.screenshot(path=str(shots / "city-routing.png"))
    row.locator("select[name=org]").select_option(ECOLOGY)
    row.locator("input[name=note]").fill("焚烧垃圾属大气污染，转生态环境局")
    row.locator(f"#route-{tid}").click()
    page.wait_for_url(re.compile(r".*done=transfer"))
    expect(page.locator(f"#routed-{tid}")).to_contain_text("生态环境局")
    expect(page.locator("[role=status]")).to_contain_text("分拨")
    no_serious_violations(page)
    page.locator(f"#routed-{tid} a").first.click()
    expect(page.locator(".trail")).to_contain_text("焚烧垃圾属大气污染")
    no_serious_violations(page)


def test_a_committee_member_enrols_a_person_and_reveals_the_health_notes(page, live, shots):
    """The committee member enrols an 80-year-old from the nav's list (the API's schema: ID number,
    the two checks, address, health notes, a contact), lands on the masked enrolment page, and reads
    the health notes only after giving a reason: the read is in the audit log."""
    import sqlalchemy as sa

    from app.db import get_db
    from auth.models import AuditEntry
    from tests.scenarios.elderly_sos.conftest import id_number
    from tests.support.factories import make_resident

    app, session = live["app"], live["session"]
    with app.app_context():
        person = make_resident(session, name="测试周阿婆", id_no=id_number("19410606", "071"), level="verified")
        session.commit()
    sign_in(page, live, "committee")
    page.click("text=应急呼叫 · 在册老人")
    no_serious_violations(page)
    page.click("#enrol-new")
    page.fill("#id_number", id_number("19410606", "071"))
    page.check("input[name=hukou_shanghai]")
    page.check("input[name=lives_alone]")
    page.fill("#address", "朱泾镇测试小区5号楼202室")
    page.fill("#health", "心脏支架术后，随身带硝酸甘油")
    page.select_option("#c1_relation", "family")
    page.fill("#c1_name", "周女儿")
    page.fill("#c1_phone", "13987650001")
    no_serious_violations(page)
    page.click("#do-enrol")
    page.wait_for_url(re.compile(r".*/console/sos/enrolments/\d+\?done=enrol$"))
    main = page.inner_text("main")
    assert "测**" in page.inner_text("h1") and "139****0001" in main and "硝酸甘油" not in main
    no_serious_violations(page)
    page.click("#read-health")
    page.fill("#reason", "上门核对用药")
    no_serious_violations(page)
    page.click("#do-reveal")
    expect(page.locator("#health-notes")).to_contain_text("心脏支架术后，随身带硝酸甘油")
    no_serious_violations(page)
    page.screenshot(path=str(shots / "sos-enrolment.png"), full_page=True)
    expected = (["health"], "上门核对用药", live["wf"].accounts["committee"].id)
    with app.app_context():  # a session of its own: expiring the module's would reload its objects later, in
        reader = get_db().new_session(write=False)  # a write transaction (BEGIN IMMEDIATE) left open
        try:
            entry = reader.scalar(sa.select(AuditEntry).where(AuditEntry.subject_person_id == person.person_id))
            audited = (entry.fields, entry.reason, entry.actor_account_id)
        finally:
            reader.close()
    assert audited == expected


def test_a_village_committee_registers_a_tenants_arrival(page, live, shots):
    """A committee member opens the day's arrivals, checks the tenant's ID card and registers
    their arrival (人来登记); the tenants are shown masked; the inspections due page opens."""
    from datetime import timedelta

    from app.places.service import local_date
    from tests.scenarios.rural_rental.world import BASE, build
    from tests.support.factories import bearer, token_for

    app, session, clock = live["app"], live["session"], live["clock"]
    with app.app_context():
        w = build(session)
        api = app.test_client()

        heads = {who: bearer(token_for(session, clock, w.accounts[who], w.orgs.get(who)))
                 for who in ("landlord", "committee_a")}
        session.commit()  # the tokens' rows: SQLite's one writer is free for the requests
        as_ = heads.__getitem__

        house = api.post(f"{BASE}/houses", headers=as_("landlord"), json={
            "village": w.world.village.code, "house_number": 12, "address": "测试村 12 号",
            "rooms": [{"label": "101", "area_m2": 15.5, "rent_fen": 80_000, "occupancy_limit": 2}]}).get_json()
        api.post(f"{BASE}/houses/{house['id']}/inspections", headers=as_("committee_a"), json={
            "checklist": dict.fromkeys(("extinguisher", "smoke_alarm", "wiring", "gas", "escape_route",
                                        "area_and_occupancy"), True)})
        today = local_date(clock)
        t = api.post(f"{BASE}/tenancies", headers=as_("landlord"), json={
            "room_id": house["rooms"][0]["id"], "tenants": [w.ids["tenant1"], w.ids["tenant2"]],
            "starts_on": today.isoformat(), "ends_on": (today + timedelta(days=30)).isoformat()}).get_json()
        api.post(f"{BASE}/applications/{t['application_id']}/approve", headers=as_("committee_a"), json={})
    page.goto(live["base"] + "/console/login")
    page.fill("#username", w.accounts["committee_a"].username)
    page.fill("#password", STAFF_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/console/$"))
    page.click("text=出租房屋 · 入住与退房")
    row = page.locator(f"#arrivals-{t['id']}")
    expect(row).to_contain_text("未入住")
    assert w.ids["tenant1"] not in page.content()  # masked
    no_serious_violations(page)
    page.fill(f"#arrivals-id-{t['id']}", w.ids["tenant1"])
    page.click(f"#arrivals-do-{t['id']}")
    page.wait_for_url(re.compile(r".*registered=arrivals"))
    expect(page.locator("p.notice")).to_contain_text("已登记入住")
    expect(page.locator(f"#arrivals-{t['id']}")).to_contain_text("已入住")
    page.screenshot(path=str(shots / "rural-rental-stays.png"))
    page.click("text=出租房屋 · 检查到期")
    expect(page.locator("h1")).to_have_text("出租房屋 · 检查到期")
    no_serious_violations(page)
