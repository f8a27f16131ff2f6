"""Generate the reference data of Jinshan district: organisations, communities, villages.

Run from the repository root: ``python -m app.places.data.generate`` (writes the JSON files
beside this script) or ``python -m app.places.data.generate --check`` (exits 1 when the
committed files differ from what this script produces). The RNG is seeded, so re-running
gives byte-identical files.

What is real and what is generated (rows carry ``generated``):
- real: the district (区划代码 310116), its 10 towns/subdistricts and the industrial zone
  with their 统计用区划代码 township codes, approximate centres (town government seats);
  the district bureaus; 4 general hospitals, 1 specialist institution and the 11
  community health centres (counts from the seed action plan, names from public
  knowledge; coordinates approximate); 星火村 of 金山卫镇 (named in the seed) and nine
  well-known Jinshan villages standing in for the seed's unnamed "9 个示范村".
- generated: housing offices' names, neighbourhood committees, property companies, all
  252 communities (the seed gives the count: "全区 252 个住宅小区"), their buildings,
  households and management assignments, house counts of villages.
"""
from __future__ import annotations

import json
import random
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from app.geo import inside_district

DATA_DIR = Path(__file__).resolve().parent
SEED = 20221116  # fixed: the files must not change between runs
FILES = ("organisations.json", "communities.json", "villages.json")

DISTRICT_CODE = "310116"
HOUSING_BUREAU = "310116-bureau-housing"
HEALTH_BUREAU = "310116-bureau-health"

# code, name, type, short name, pinyin, centre (lat, lon), communities
TOWNS: tuple[tuple[str, str, str, str, str, tuple[float, float], int], ...] = (
    ("310116001", "石化街道", "subdistrict", "石化", "shihua", (30.7145, 121.3399), 70),
    ("310116101", "朱泾镇", "town", "朱泾", "zhujing", (30.8906, 121.1711), 50),
    ("310116102", "枫泾镇", "town", "枫泾", "fengjing", (30.8908, 121.0101), 18),
    ("310116103", "张堰镇", "town", "张堰", "zhangyan", (30.8039, 121.2961), 12),
    ("310116104", "亭林镇", "town", "亭林", "tinglin", (30.8906, 121.3084), 22),
    ("310116105", "吕巷镇", "town", "吕巷", "lvxiang", (30.8339, 121.2009), 8),
    ("310116107", "廊下镇", "town", "廊下", "langxia", (30.7919, 121.1871), 5),
    ("310116109", "金山卫镇", "town", "金山卫", "jinshanwei", (30.7271, 121.3094), 25),
    ("310116112", "漕泾镇", "town", "漕泾", "caojing", (30.7930, 121.4202), 10),
    ("310116113", "山阳镇", "town", "山阳", "shanyang", (30.7630, 121.3518), 25),
    ("310116503", "金山工业区", "industrial_zone", "金山工业区", "gongyequ", (30.8480, 121.2580), 7),
)

# code suffix, name, short name, organisation types it supervises
BUREAUS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("housing", "上海市金山区房屋管理局", "区房管局", ("property_company", "housing_office")),
    ("civil-affairs", "上海市金山区民政局", "区民政局", ("neighbourhood_committee",)),
    ("agriculture", "上海市金山区农业农村委员会", "区农业农村委", ("village_committee",)),
    ("transport", "上海市金山区交通委员会", "区交通委", ("taxi_company", "parking_operator", "charging_operator")),
    ("health", "上海市金山区卫生健康委员会", "区卫健委", ("hospital", "community_health_centre")),
    ("sports", "上海市金山区体育局", "区体育局", ("venue_operator",)),
    ("culture-tourism", "上海市金山区文化和旅游局", "区文旅局", ("cultural_centre",)),
    ("hrss", "上海市金山区人力资源和社会保障局", "区人社局", ("employer",)),
    ("education", "上海市金山区教育局", "区教育局", ("school",)),
    ("ecology", "上海市金山区生态环境局", "区生态环境局", ()),
    ("water", "上海市金山区水务局", "区水务局", ()),
    ("city-ops", "上海市金山区城市运行管理中心", "区城运中心", ("call_centre",)),
    ("market", "上海市金山区市场监督管理局", "区市场监管局", ("merchant",)),
    ("commerce", "上海市金山区商务委员会", "区商务委", ()),
    ("science", "上海市金山区科学技术委员会", "区科委", ()),
    ("greening", "上海市金山区绿化和市容管理局", "区绿化市容局", ()),
    ("gov-services", "上海市金山区政务服务办公室", "区政务服务办", ()),
)

HOTLINE_OFFICE = "310116-hotline"
SOS_CALL_CENTRE = "310116-sos-call-centre"

# code, name, kind, town code (location), (lat, lon) approximate
HOSPITALS: tuple[tuple[str, str, str, str, tuple[float, float]], ...] = (
    ("310116-hosp-fudan-jinshan", "复旦大学附属金山医院", "general", "310116109", (30.7440, 121.3230)),
    ("310116-hosp-sixth-jinshan", "上海市第六人民医院金山分院", "general", "310116101", (30.8962, 121.1602)),
    ("310116-hosp-tinglin", "上海市金山区亭林医院", "general", "310116104", (30.8851, 121.3152)),
    ("310116-hosp-integrated", "上海市金山区中西医结合医院", "general", "310116101", (30.8995, 121.1768)),
    ("310116-hosp-mental-health", "上海市金山区精神卫生中心", "specialist", "310116101", (30.8842, 121.1840)),
)

# community health centre name stems, per town code
CHC_NAMES = {
    "310116001": "石化街道", "310116101": "朱泾", "310116102": "枫泾镇", "310116103": "张堰镇",
    "310116104": "亭林镇", "310116105": "吕巷镇", "310116107": "廊下镇", "310116109": "金山卫镇",
    "310116112": "漕泾镇", "310116113": "山阳镇", "310116503": "金山工业区",
}

# name, pinyin, town code, (lat, lon) approximate, demonstration, note
VILLAGES: tuple[tuple[str, str, str, tuple[float, float], bool, str], ...] = (
    ("星火村", "xinghuo", "310116109", (30.7560, 121.2640), False,
     "“智慧村庄”建设试点（行动计划：推广金山卫镇星火村“智慧村庄”模式）"),
    ("中洪村", "zhonghong", "310116102", (30.8700, 121.0420), True, "金山农民画村所在地"),
    ("新义村", "xinyi", "310116102", (30.9080, 121.0380), True, "枫泾镇美丽乡村"),
    ("待泾村", "daijing", "310116101", (30.8710, 121.1420), True, "“花开海上”生态园所在地"),
    ("水库村", "shuiku", "310116112", (30.8100, 121.4080), True, "乡村振兴示范村"),
    ("和平村", "heping", "310116105", (30.8200, 121.2300), True, "白龙湖畔"),
    ("山塘村", "shantang", "310116107", (30.7900, 121.1600), True, "廊下镇美丽乡村"),
    ("中华村", "zhonghua", "310116107", (30.8100, 121.1800), True, "廊下镇乡村振兴示范村"),
    ("渔业村", "yuye", "310116113", (30.7120, 121.3650), True, "金山嘴渔村"),
    ("百家村", "baijia", "310116103", (30.7900, 121.2700), True, "张堰镇美丽乡村"),
)

# syllables for generated names (no real estate is meant)
_W1 = "金海枫锦瑞欣康华怡景嘉盛龙凤清润丰和安兴阳晨绿秀馨悦宁福祥泰荣翠碧桂兰梅松竹柳桥"
_W2 = "园苑庭湾城居府邸轩阁"
_SUFFIXES = ("苑", "园", "花园", "新村", "家园", "公寓", "雅苑", "名邸", "佳苑", "小区", "华庭", "新城")
_ROAD_END = ("路", "路", "路", "街", "大道")


def _round(x: float) -> float:
    return round(x, 6)


class _Names:
    """Unique generated names from a seeded RNG."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used: set[str] = set()

    def pick(self, make: Any) -> str:
        for _ in range(10_000):
            name = make()
            if name not in self.used:
                self.used.add(name)
                return name
        raise RuntimeError("ran out of generated names")

    def two(self) -> str:
        a, b = self.rng.sample(_W1, 2)
        return a + b


def _sample_point(rng: random.Random, centre: tuple[float, float], spread: float) -> tuple[float, float]:
    """A point near ``centre``, inside the district with a ~400 m margin from its edge."""
    lat0, lon0 = centre
    for _ in range(10_000):
        lat = rng.gauss(lat0, spread)
        lon = rng.gauss(lon0, spread * 1.15)
        m = 0.004
        if all(inside_district(lat + dy, lon + dx) for dy, dx in ((0, 0), (m, 0), (-m, 0), (0, m), (0, -m))):
            return _round(lat), _round(lon)
    raise RuntimeError(f"no point inside the district near {centre}")


def _org(code: str, name: str, type_: str, *, parent: str | None = None, supervisor: str | None = None,
         generated: bool = False, attributes: dict | None = None) -> dict:
    return {"code": code, "name": name, "type": type_, "parent": parent, "supervisor": supervisor,
            "generated": generated, "attributes": attributes or {}}


def build() -> dict[str, list[dict]]:
    """All reference rows, deterministic."""
    rng = random.Random(SEED)
    names = _Names(rng)
    orgs: list[dict] = []

    orgs.append(_org(DISTRICT_CODE, "金山区人民政府", "district", attributes={
        "admin_code": DISTRICT_CODE, "short_name": "金山区",
        "centre": {"lat": 30.7419, "lon": 121.3416},
    }))
    supervisor_of: dict[str, str] = {}
    for suffix, name, short, supervises in BUREAUS:
        code = f"{DISTRICT_CODE}-bureau-{suffix}"
        for t in supervises:
            supervisor_of.setdefault(t, code)
        orgs.append(_org(code, name, "bureau", parent=DISTRICT_CODE,
                         attributes={"short_name": short, "supervises": list(supervises)}))
    # the district's 12345 hotline office (市民服务热线), supervised by 区城运中心
    orgs.append(_org(HOTLINE_OFFICE, "上海市金山区12345市民服务热线", "call_centre", parent=DISTRICT_CODE,
                     supervisor=supervisor_of["call_centre"], attributes={"short_name": "12345热线"}))
    # the elderly emergency call centre (高龄老人应急呼叫, elderly-sos), supervised by 区民政局
    orgs.append(_org(SOS_CALL_CENTRE, "上海市金山区高龄老人应急呼叫中心", "call_centre", parent=DISTRICT_CODE,
                     supervisor=f"{DISTRICT_CODE}-bureau-civil-affairs", attributes={"short_name": "应急呼叫中心"}))

    for code, name, type_, short, pinyin, (lat, lon), count in TOWNS:
        orgs.append(_org(code, name, type_, parent=DISTRICT_CODE, attributes={
            "admin_code": code, "short_name": short, "pinyin": pinyin,
            "centre": {"lat": lat, "lon": lon}, "residential_communities": count,
        }))
        orgs.append(_org(f"{code}-housing", f"{name}房管办", "housing_office", parent=code,
                         supervisor=supervisor_of["housing_office"], generated=True,
                         attributes={"role": "fallback owner of communities without a property company"}))

    # neighbourhood committees: about one per 3.5 communities
    committees: dict[str, list[str]] = {}
    for code, _n, _t, _s, _p, _c, count in TOWNS:
        n = max(1, round(count / 3.5))
        committees[code] = []
        for i in range(1, n + 1):
            nc_code = f"{code}-nc{i:02d}"
            nc_name = names.pick(lambda: names.two() + "居委会")
            committees[code].append(nc_code)
            orgs.append(_org(nc_code, nc_name, "neighbourhood_committee", parent=code,
                             supervisor=supervisor_of["neighbourhood_committee"], generated=True))

    # property companies, each with two or three home towns
    town_codes = [t[0] for t in TOWNS]
    companies: list[dict] = []
    for i in range(1, 21):
        home = rng.sample(town_codes, rng.choice((2, 2, 3)))
        company = _org(f"{DISTRICT_CODE}-pc-{i:02d}",
                       names.pick(lambda: "上海" + names.two() + "物业管理有限公司"), "property_company",
                       supervisor=HOUSING_BUREAU, generated=True,
                       attributes={"home_towns": sorted(home)})
        companies.append(company)
        orgs.append(company)

    for code, name, kind, town, (lat, lon) in HOSPITALS:
        orgs.append(_org(code, name, "hospital", parent=DISTRICT_CODE, supervisor=HEALTH_BUREAU, attributes={
            "kind": kind, "town": town, "location": {"lat": lat, "lon": lon}, "coordinates": "approximate",
        }))
    for code, _n, _t, _s, _p, centre, _c in TOWNS:
        lat, lon = _sample_point(rng, centre, 0.004)
        orgs.append(_org(f"{code}-chc", f"金山区{CHC_NAMES[code]}社区卫生服务中心", "community_health_centre",
                         parent=code, supervisor=HEALTH_BUREAU, attributes={
                             "town": code, "location": {"lat": lat, "lon": lon}, "coordinates": "approximate",
                         }))

    villages: list[dict] = []
    for vname, pinyin, town, (lat, lon), demo, note in VILLAGES:
        vc_code = f"{town}-vc-{pinyin}"
        orgs.append(_org(vc_code, f"{vname}村民委员会", "village_committee", parent=town,
                         supervisor=supervisor_of["village_committee"]))
        villages.append({
            "code": f"{town}-v-{pinyin}", "name": vname, "town": town, "committee": vc_code,
            "lat": lat, "lon": lon, "house_count": rng.randint(260, 880), "demonstration": demo,
            "generated": False,
            "attributes": {
                "note": note,
                "name_source": "seed" if vname == "星火村" else "public knowledge",
                "smart_village": True,
                "coordinates": "approximate",
                "house_count": "generated",
                "area": {"radius_m": 1500},
                "area_source": "assumed: a 1,500 m circle around the approximate centre until the district's "
                               "boundaries are loaded (flask places load-villages)",
                **({"demonstration_source": "assumed: the seed counts 9 demonstration villages without naming them"}
                   if demo else {}),
            },
        })

    communities = _communities(rng, names, committees, companies)
    return {"organisations": orgs, "communities": communities, "villages": villages}


def _communities(rng: random.Random, names: _Names, committees: dict[str, list[str]],
                 companies: list[dict]) -> list[dict]:
    rows: list[dict] = []
    for code, tname, _t, _s, _p, centre, count in TOWNS:
        roads = [names.pick(lambda: names.two() + rng.choice(_ROAD_END)) for _ in range(max(3, count // 4))]
        ncs = committees[code]
        for i in range(1, count + 1):
            name = names.pick(lambda: rng.choice(_W1) + rng.choice(_W1 + _W2) + rng.choice(_SUFFIXES))
            lat, lon = _sample_point(rng, centre, 0.011)
            buildings = []
            for b in range(1, rng.randint(3, 20) + 1):
                floors = rng.choice((6, 6, 6, 7, 11, 12, 14, 16, 18))
                buildings.append({"number": str(b), "floors": floors, "rooms_per_floor": rng.randint(2, 6)})
            rooms = sum(b["floors"] * b["rooms_per_floor"] for b in buildings)
            rows.append({
                "code": f"{code}-c{i:03d}", "name": name, "town": code,
                "committee": ncs[(i - 1) * len(ncs) // count],
                "fallback_owner": f"{code}-housing",
                "address": f"上海市金山区{tname}{rng.choice(roads)}{rng.randint(1, 1500)}弄",
                "lat": lat, "lon": lon, "households": int(rooms * rng.uniform(0.78, 0.96)),
                "generated": True, "buildings": buildings, "assignments": [],
            })

    order = list(range(len(rows)))
    rng.shuffle(order)
    unmanaged, changed = set(order[:10]), set(order[10:36])
    for idx, row in enumerate(rows):
        if idx in unmanaged:
            continue
        local = [c["code"] for c in companies if row["town"] in c["attributes"]["home_towns"]]
        pool = local or [c["code"] for c in companies]
        first = rng.choice(pool)
        since = date(2010, 1, 1) + timedelta(days=rng.randint(0, 12 * 365))
        if idx in changed:
            switch = date(2022, 1, 1) + timedelta(days=rng.randint(0, 4 * 365))
            second = rng.choice([c for c in pool if c != first] or [c["code"] for c in companies if c["code"] != first])
            row["assignments"] = [
                {"company": first, "valid_from": since.isoformat(), "valid_to": switch.isoformat()},
                {"company": second, "valid_from": switch.isoformat(), "valid_to": None},
            ]
        else:
            row["assignments"] = [{"company": first, "valid_from": since.isoformat(), "valid_to": None}]
    return rows


def render(rows: list[dict]) -> str:
    """One JSON object per line: stable and diff-friendly."""
    body = ",\n".join(json.dumps(r, ensure_ascii=False, sort_keys=True, separators=(",", ":")) for r in rows)
    return "[\n" + body + "\n]\n"


def rendered() -> dict[str, str]:
    data = build()
    return {f"{key}.json": render(rows) for key, rows in data.items()}


def main(argv: list[str]) -> int:
    files = rendered()
    if "--check" in argv:
        stale = [n for n, text in files.items() if (DATA_DIR / n).read_text(encoding="utf-8") != text]
        if stale:
            print("out of date: " + ", ".join(stale))
            return 1
        print("reference data up to date")
        return 0
    for name, text in files.items():
        (DATA_DIR / name).write_text(text, encoding="utf-8")
        print(f"wrote {DATA_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
