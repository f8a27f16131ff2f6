"""The one registry of machine error codes and the exception every layer raises.

Every error body is ``{code, message, errors?, request_id}``. ``code`` is a stable string
from ``ERRORS``; ``message`` is Chinese unless the client prefers English.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorCode:
    status: int
    zh: str
    en: str


ERRORS: dict[str, ErrorCode] = {
    # generic
    "validation_error": ErrorCode(422, "请求参数有误", "The request has invalid fields."),
    "bad_request": ErrorCode(400, "请求无效", "Bad request."),
    "malformed_json": ErrorCode(400, "请求体不是有效的 JSON", "The request body is not valid JSON."),
    "json_too_deep": ErrorCode(400, "请求体 JSON 嵌套层数过多", "The JSON body is nested too deeply."),
    "text_control_chars": ErrorCode(
        422, "文字中含有不可见的控制字符（双向文字覆盖或零宽字符）",
        "The text holds invisible control characters (bidirectional overrides or zero-width characters).",
    ),
    "unsupported_media_type": ErrorCode(415, "不支持的内容类型", "Unsupported media type."),
    "payload_too_large": ErrorCode(413, "请求内容过大", "Payload too large."),
    "uri_too_long": ErrorCode(414, "请求地址过长", "The URL is too long."),
    "headers_too_large": ErrorCode(431, "请求头过大或过多", "The request headers are too large or too many."),
    "unauthenticated": ErrorCode(401, "请先登录", "Authentication required."),
    "forbidden": ErrorCode(403, "无权执行此操作", "You may not do this."),
    "not_found": ErrorCode(404, "资源不存在", "Not found."),
    "method_not_allowed": ErrorCode(405, "不支持该请求方法", "Method not allowed."),
    "conflict": ErrorCode(409, "与当前状态冲突", "Conflict with the current state."),
    # escalation chains (app.chains)
    "escalation_chain_invalid": ErrorCode(422, "升级链设置有误", "The escalation chain has invalid steps."),
    "escalation_chain_unsafe": ErrorCode(
        422, "升级链须确保及时通知到人", "The escalation chain would leave nobody alerted in time."),
    "precondition_failed": ErrorCode(412, "资源已被修改，请刷新后重试", "Precondition failed."),
    "precondition_required": ErrorCode(428, "缺少 If-Match 请求头", "If-Match is required."),
    "rate_limited": ErrorCode(429, "请求过于频繁，请稍后再试", "Too many requests."),
    "internal_error": ErrorCode(500, "服务器内部错误", "Internal server error."),
    "unavailable": ErrorCode(503, "服务暂不可用", "Service unavailable."),
    "verification_code_invalid": ErrorCode(422, "验证码错误或已失效，请重新获取",
                                           "The code is wrong, used or expired."),
    "mobile_already_verified": ErrorCode(409, "该手机号已验证", "This mobile number is already verified."),
    "database_unavailable": ErrorCode(503, "服务繁忙，请稍后重试", "The database is unavailable; try again shortly."),
    # idempotency
    "idempotency_in_progress": ErrorCode(
        409, "相同的请求正在处理中", "A request with this Idempotency-Key is in progress."
    ),
    "idempotency_key_reused": ErrorCode(
        422, "该幂等键已用于另一个请求", "This Idempotency-Key was used with another payload."
    ),
    "idempotency_answer_lost": ErrorCode(
        409, "该请求已经处理，但结果未能送达，请刷新查看", "This request was carried out but its answer was lost; "
        "look the result up instead of retrying."
    ),
    # identity (auth/): tokens, logins, staff, devices, personal data, residences, relations
    "token_invalid": ErrorCode(401, "登录凭证无效，请重新登录", "The access token is invalid."),
    "token_expired": ErrorCode(401, "登录已过期，请刷新或重新登录", "The access token has expired."),
    "token_revoked": ErrorCode(401, "登录已失效，请重新登录", "The session has ended; log in again."),
    "refresh_token_invalid": ErrorCode(401, "刷新凭证无效，请重新登录", "The refresh token is invalid."),
    "refresh_token_reused": ErrorCode(
        401, "刷新凭证已被使用，为安全起见已退出登录", "The refresh token was reused; the session is revoked."
    ),
    "refresh_token_mismatch": ErrorCode(
        403, "刷新凭证不属于当前账号", "The refresh token belongs to another account."
    ),
    "wechat_code_invalid": ErrorCode(401, "微信登录凭证无效或已使用", "The WeChat login code is invalid or used."),
    "wechat_user_blocked": ErrorCode(403, "该微信账号已被限制登录", "This WeChat user is blocked."),
    "wechat_unavailable": ErrorCode(503, "微信服务暂不可用，请稍后再试", "WeChat is unavailable; try again later."),
    "suishenban_code_invalid": ErrorCode(401, "随申办授权码无效或已使用", "The 随申办 code is invalid or used."),
    "suishenban_not_verified": ErrorCode(
        403, "随申办账号尚未完成实名认证", "The 随申办 account is not real-name verified."
    ),
    "suishenban_unavailable": ErrorCode(
        503, "随申办服务暂不可用，请稍后再试", "随申办 is unavailable; try again later."
    ),
    "identity_conflict": ErrorCode(
        409, "该账号已实名认证为另一人", "This account is already verified as another person."
    ),
    "identity_locked": ErrorCode(
        409, "已实名认证，姓名和身份证号不可修改", "Verified name and ID number cannot be changed."
    ),
    "csrf_invalid": ErrorCode(400, "页面已过期或来源不明，请刷新页面后重试", "The form has expired or did not come "
                              "from this console; reload the page and try again."),
    "invalid_credentials": ErrorCode(401, "用户名或密码错误", "Wrong user name or password."),
    "login_locked": ErrorCode(429, "登录失败次数过多，请稍后再试", "Too many failed logins; try again later."),
    "account_disabled": ErrorCode(403, "账号已停用", "The account is disabled."),
    "org_required": ErrorCode(409, "请选择要代表的机构", "Choose the organisation to act for."),
    "not_a_member": ErrorCode(403, "您不属于该机构", "You are not a member of this organisation."),
    "role_unknown": ErrorCode(422, "该机构类型没有此角色", "No such role for this type of organisation."),
    "password_too_weak": ErrorCode(422, "密码强度不足", "The password is too weak."),
    "username_taken": ErrorCode(409, "用户名已被使用", "The user name is taken."),
    "membership_exists": ErrorCode(409, "该用户已是本机构成员", "Already a member of this organisation."),
    "cannot_change_self": ErrorCode(422, "不能修改自己的角色或状态", "You cannot change your own membership."),
    "device_credentials_invalid": ErrorCode(401, "设备凭证无效", "Invalid device credentials."),
    "device_disabled": ErrorCode(403, "设备已停用", "The device is disabled."),
    "mobile_invalid": ErrorCode(422, "手机号格式不正确", "Invalid mobile number."),
    "id_number_invalid": ErrorCode(422, "身份证号不正确", "Invalid resident ID number."),
    "reason_required": ErrorCode(422, "查看完整个人信息须填写理由", "A reason is required to read personal data."),
    "relation_to_self": ErrorCode(422, "不能添加与自己的关系", "A relation to oneself is not allowed."),
    "relation_exists": ErrorCode(409, "该关系已存在", "This relation exists already."),
    "relation_identity_mismatch": ErrorCode(
        422, "姓名与身份证号不匹配", "The name does not match the ID number."
    ),
    "relation_not_pending": ErrorCode(409, "该关系已确认或已拒绝", "This relation was confirmed or declined already."),
    "relation_confirmed_by_committee": ErrorCode(
        403, "未成年人的代办关系由居（村）委会或现场核验确认", "A child's relations are confirmed by their committee."
    ),
    "real_name_required": ErrorCode(
        403, "请先完成实名信息", "Give your name and ID number first."
    ),
    "place_not_found": ErrorCode(422, "小区或村不存在", "No such community or village."),
    "room_not_found": ErrorCode(422, "楼栋、房号或门牌号不存在", "No such building, room or house."),
    "residence_exists": ErrorCode(409, "已登记该住址", "This residence is registered already."),
    "residence_already_reviewed": ErrorCode(409, "该住址登记已审核", "This residence claim was reviewed already."),
    # platform
    "not_ready": ErrorCode(503, "服务尚未就绪", "Not ready."),
    "outside_district": ErrorCode(422, "位置不在金山区范围内", "The location is outside Jinshan."),
    # storage (photo uploads)
    "image_invalid": ErrorCode(
        422, "图片已损坏、不完整或像素过多", "The image is corrupt, truncated or has too many pixels."
    ),
    "upload_quota_exceeded": ErrorCode(
        429, "今天上传的图片已达上限，请明天再试", "You have reached today's upload limit; try again tomorrow."
    ),
    "url_expired": ErrorCode(403, "链接已过期，请刷新后重试", "This link has expired; refresh for a new one."),
    # residents' rights over their data (app/privacy)
    "consent_required": ErrorCode(
        403, "该功能需要您的同意，请在“我的-授权管理”中开启", "This needs your consent; give it in your settings."
    ),
    "consent_version_outdated": ErrorCode(
        409, "授权说明已更新，请阅读最新版本后再同意", "The text has changed; read the current version and agree to it."
    ),
    "export_daily_limit": ErrorCode(
        429, "每人每天只能申请一次个人信息副本，请明天再试", "One copy of your data a day; try again tomorrow."
    ),
    # signed QR codes (qr/): 422 = the code itself is unacceptable; 409 = a valid code whose
    # state forbids it (already used, revoked); 503 = keys not initialised.
    "qr_malformed": ErrorCode(422, "二维码格式无效", "The code is malformed."),
    "qr_invalid_signature": ErrorCode(422, "二维码签名无效", "The code's signature is invalid."),
    "qr_unknown_key": ErrorCode(422, "二维码的签名密钥未知", "The code was signed with an unknown key."),
    "qr_wrong_type": ErrorCode(422, "这不是本系统的二维码", "This is not a code of ours."),
    "qr_expired": ErrorCode(422, "二维码已过期，请刷新", "The code has expired."),
    "qr_not_yet_valid": ErrorCode(422, "二维码尚未生效", "The code is not valid yet."),
    "qr_wrong_purpose": ErrorCode(422, "此处不受理该二维码", "This code is not accepted here."),
    "qr_replayed": ErrorCode(409, "二维码已被使用", "The code has already been used."),
    "qr_revoked": ErrorCode(409, "二维码已作废", "The code has been revoked."),
    "qr_no_signing_key": ErrorCode(503, "二维码签名密钥尚未初始化", "No QR signing key is initialised."),
    # notifications and moderation (app/wechat, app/sms, app/moderation)
    "subscription_template_unknown": ErrorCode(
        422, "未知的订阅消息模板", "Unknown subscription message template."
    ),
    "wechat_signature_invalid": ErrorCode(403, "微信推送签名无效", "The WeChat push signature is invalid."),
    "moderation_already_decided": ErrorCode(409, "该内容已审核", "This item was already decided."),
    "content_rejected": ErrorCode(422, "内容未通过审核，请修改后再提交", "The content failed moderation."),
    # workflow engine (scenarios/engines/workflow) and its ticket scenarios
    "invalid_transition": ErrorCode(
        409, "工单当前状态不允许此操作", "This action is not allowed in the ticket's current state."
    ),
    "no_residence": ErrorCode(
        403, "您在该小区没有已认证的住址，不能报修", "You have no verified residence there to report from."
    ),
    "unknown_category": ErrorCode(422, "没有这个类别", "Unknown category."),
    "text_too_long": ErrorCode(422, "内容超过字数限制", "The text is too long."),
    "already_rated": ErrorCode(409, "该工单已评价，不能重复评价", "This ticket has been rated already."),
    "already_sent_back": ErrorCode(409, "本单位已退回过该工单，不能再次退单",
                                   "Your department has sent this work order back once already."),
    "reply_required": ErrorCode(409, "须先答复来电人", "The caller must have a reply first."),
    "satisfaction_recorded": ErrorCode(409, "本轮办理的满意度已记录",
                                       "The caller's verdict on this handling is recorded already."),
    "reopen_window_passed": ErrorCode(
        409, "已超过可重新打开的期限", "The time to reopen this ticket has passed."
    ),
    "assignee_not_in_org": ErrorCode(
        422, "只能指派给本单位的维修人员", "The assignee is not a technician of your organisation."
    ),
    "internal_note_staff_only": ErrorCode(
        422, "只有处理工单的工作人员可以添加内部备注", "Only staff handling the ticket may add an internal note."
    ),
    "appointment_in_past": ErrorCode(422, "预约上门时间不能早于现在", "The appointment is in the past."),
    "appointment_too_far": ErrorCode(422, "预约上门时间太远", "The appointment is too far ahead."),
    "export_too_large": ErrorCode(
        422, "要导出的工单过多，请缩小筛选范围", "Too many tickets to export; narrow the filters."
    ),
    # place-checkin (场所码 / 数字哨兵)
    "sentinel_not_bound": ErrorCode(
        409, "该数字哨兵尚未绑定场所", "This sentinel is not bound to a place."),
    "place_closed": ErrorCode(409, "该场所已停用", "This place is closed."),
    "transfer_target_invalid": ErrorCode(
        422, "不能转派到该单位", "The ticket cannot be transferred to that organisation."
    ),
    "content_pending_review": ErrorCode(
        409, "内容正在审核，审核通过后才能转派", "The content is waiting for review; transfer it once cleared."
    ),
    # city-report (随申拍) and road-report (智慧路长)
    "unknown_road": ErrorCode(422, "没有这条道路", "Unknown road."),
    # booking engine (scenarios/engines/booking)
    "slot_full": ErrorCode(409, "该时段已约满", "This slot is fully booked."),
    "slot_closed": ErrorCode(409, "该时段已关闭", "This slot is closed."),
    "slot_in_past": ErrorCode(422, "该时段已开始或已结束", "This slot has started or is over."),
    "slot_too_far": ErrorCode(422, "该时段超出可预约的天数", "This slot is beyond the booking window."),
    "slot_not_in_scenario": ErrorCode(422, "该时段不属于本预约事项", "This slot is not one of this scenario."),
    "party_too_large": ErrorCode(422, "预约人数超过上限", "Too many places for one booking."),
    "already_booked": ErrorCode(409, "已预约该时段", "This person already booked this slot."),
    "booking_limit_reached": ErrorCode(409, "已达到预约次数上限", "A booking limit is reached."),
    "not_acting_for": ErrorCode(403, "您不能为此人预约", "You may not book for this person."),
    "hold_expired": ErrorCode(409, "保留时间已过，名额已释放，请重新预约",
                              "The hold expired and its place was released; book again."),
    "booking_not_active": ErrorCode(409, "预约已结束，不能再操作", "The booking is no longer active."),
    "cancel_too_late": ErrorCode(409, "已过取消期限", "Too late to cancel."),
    "waitlist_not_needed": ErrorCode(409, "该时段还有空位，请直接预约", "There is a free place: book it."),
    "already_waiting": ErrorCode(409, "已在候补名单中", "Already on the waitlist."),
    "resource_code_taken": ErrorCode(409, "编号已被使用", "This resource code is taken."),
    "pass_wrong_venue": ErrorCode(409, "该凭证不是本场馆的预约", "This pass is for another venue."),
    "pass_used_up": ErrorCode(409, "该预约的人数已全部入场", "Every place of this booking has entered."),
    "no_booking_now": ErrorCode(409, "此时没有在本场馆的预约", "No booking at this venue now."),
    "realname_required": ErrorCode(403, "请先完成实名认证（随申办）再预约", "Real-name verification is required."),
    "patient_id_required": ErrorCode(422, "就诊人需登记身份证号", "The patient needs a recorded ID number."),
    "online_booking_suspended": ErrorCode(403, "因多次爽约，暂停网上预约",
                                          "Online booking is suspended after no-shows."),
    "no_road_nearby": ErrorCode(
        422, "附近没有登记的道路，请选择道路", "No registered road near this point; name the road."
    ),
    # dispatch engine (taxi 一键叫车, SOS next)
    "already_taken": ErrorCode(409, "已被其他人接单", "Another agent has taken this job."),
    "offer_expired": ErrorCode(409, "派单已过期", "This offer has expired."),
    "offer_not_pending": ErrorCode(409, "该派单已处理", "This offer was already answered."),
    "agent_off_duty": ErrorCode(409, "您当前不在岗，请先上岗", "You are off duty; go on duty first."),
    "agent_busy": ErrorCode(409, "您正在服务另一单", "You are serving another job."),
    "not_an_agent": ErrorCode(403, "只有本业务的服务人员可以执行此操作", "Only this service's agents may do this."),
    "position_in_future": ErrorCode(422, "位置时间晚于当前时间", "The position's time is in the future."),
    "outside_service_area": ErrorCode(
        422, "您所在的小区暂未开通此服务", "This service is not offered where you live yet."),
    "job_active": ErrorCode(409, "您已有进行中的订单", "You have a request in progress already."),
    # ledger engine (scenarios/engines/ledger): balances, payment intents, refunds
    "amount_invalid": ErrorCode(422, "金额必须是大于 0 的整数（单位：分）",
                                "The amount must be a whole number of fen above 0."),
    "currency_unsupported": ErrorCode(422, "仅支持人民币（CNY）", "Only CNY is supported."),
    "insufficient_balance": ErrorCode(409, "余额不足", "The balance is too low."),
    "payment_not_payable": ErrorCode(409, "该订单已支付或已关闭，不能再支付",
                                     "This payment is already paid or closed."),
    "payment_expired": ErrorCode(409, "订单已过期，请重新下单", "This payment expired; order again."),
    "payment_not_refundable": ErrorCode(409, "该订单未支付，不能退款", "This payment was never paid."),
    "payment_provider_unavailable": ErrorCode(503, "支付服务暂不可用，订单已保留，请稍后重试",
                                              "The payment service is unavailable; the order is kept, try again."),
    "wechat_account_required": ErrorCode(409, "请在微信小程序中登录后支付", "Sign in with WeChat to pay."),
    "notification_rejected": ErrorCode(401, "通知验签失败", "The notification's signature does not verify."),
    "refund_exceeds_paid": ErrorCode(409, "退款金额超过可退金额", "The refund is more than what is left to refund."),
    "payment_required": ErrorCode(409, "请先支付，支付成功即确认预约",
                                  "Pay for it: the payment confirms it (payment_id)."),
    # approval engine (scenarios/engines/approval)
    "not_eligible": ErrorCode(422, "不符合申请条件", "Not eligible."),
    "application_state_changed": ErrorCode(409, "申请的状态已变化（可能已被处理），请刷新后重试",
                                           "The application's state has changed (decided already?); reload it."),
    # rural-rental (出租房屋)
    "not_a_villager": ErrorCode(403, "须为本村已核实的村民才能登记出租房屋",
                                "Only verified villagers register houses here."),
    "house_registered": ErrorCode(409, "该门牌号的房屋已登记", "This house is registered already."),
    "tenant_not_verified": ErrorCode(422, "租客须完成实名认证", "Every tenant must be real-name verified."),
    "room_over_occupancy": ErrorCode(409, "该房间在此期间的租住人数将超过上限",
                                     "The room would hold more tenants than its limit in this period."),
    "no_approved_tenancy": ErrorCode(409, "没有今天有效的已批准租约，不能登记入住",
                                     "No approved tenancy covers today: the arrival cannot be registered."),
    "not_a_tenant": ErrorCode(409, "此人不是该租约的租客", "This person is not a tenant of this tenancy."),
    "already_left": ErrorCode(409, "该租客已注销离开", "This tenant has already left."),
    "not_arrived": ErrorCode(409, "该租客尚未登记入住", "This tenant's arrival was not registered."),
    "violation_closed": ErrorCode(409, "该违规已结案", "This violation is closed."),
    "room_not_available": ErrorCode(409, "该房源已下架", "This room is not listed any more."),
    "rental_request_own_room": ErrorCode(409, "不能申请自己的房间", "You cannot ask for your own room."),
    "rental_request_pending": ErrorCode(409, "您已申请过该房间，请等待房东答复",
                                        "You have asked for this room already; wait for the landlord's answer."),
    "rental_request_decided": ErrorCode(409, "该租房申请已处理", "This rental request has been decided already."),
    "rental_request_used": ErrorCode(409, "该租房申请已提交过租约", "A tenancy answers this rental request already."),
    # smart-village (智慧村庄)
    "notice_not_important": ErrorCode(409, "该通知无需确认", "This notice asks for no confirmation."),
    # listing engine (scenarios/engines/listing)
    "listing_unknown_category": ErrorCode(422, "没有这个类别", "Unknown category."),
    "price_not_positive": ErrorCode(422, "价格（租金）须为大于 0 的整数（分）",
                                    "The price must be a positive number of fen."),
    "listing_state_changed": ErrorCode(409, "该信息的状态已变化，请刷新后重试",
                                       "The entry's state has changed; reload it."),
    "listing_text_refused": ErrorCode(422, "内容含有不允许发布的文字",
                                      "The text holds words that may not be published."),
    "listing_moderation_pending": ErrorCode(409, "内容尚在人工审核中，暂不能发布",
                                           "The text awaits a moderator's review; it cannot be published yet."),
    # telemetry engine (scenarios/engines/telemetry)
    "telemetry_unknown_kind": ErrorCode(422, "没有这种读数类型", "Unknown reading kind."),
    "telemetry_wrong_device_kind": ErrorCode(403, "该类设备不能上报这种读数",
                                             "Devices of this kind may not report this reading."),
    "telemetry_not_bound": ErrorCode(403, "该设备未绑定上报对象", "This device reports on no subject of this kind."),
    "telemetry_not_your_subject": ErrorCode(403, "该设备不能上报此对象的读数",
                                            "This device does not report on this subject."),
    "reading_out_of_range": ErrorCode(422, "读数超出允许范围", "The reading is out of range."),
    "reading_from_future": ErrorCode(422, "读数时间晚于当前时间", "The reading's time is in the future."),
    "telemetry_batch_too_large": ErrorCode(422, "一次上报的读数过多", "Too many readings in one batch."),
    # ev-charging (公共充电桩)
    "pile_faulty": ErrorCode(409, "该充电桩故障，暂不可用", "This charging pile reports a fault."),
    "pile_offline": ErrorCode(409, "该充电桩离线，状态未知，暂不可用",
                              "This charging pile is silent: its state is unknown."),
    "pile_in_use": ErrorCode(409, "该充电桩正在充电", "This charging pile is already charging."),
    "pile_reserved": ErrorCode(409, "该充电桩此时段已被他人预约", "Someone else reserved this pile for now."),
    "no_reservation_now": ErrorCode(409, "此充电桩当前到达时段没有预约", "No reservation of this pile for now."),
    "session_not_started": ErrorCode(409, "此充电桩没有进行中的充电，不能结束",
                                     "No charging session is open on this pile: nothing to stop."),
    "session_not_active": ErrorCode(409, "充电已结束", "This charging session has already stopped."),
    "energy_negative": ErrorCode(422, "电量不能为负数", "The energy delivered cannot be negative."),
    "energy_decreasing": ErrorCode(422, "电量不能少于此前报告的电量",
                                   "The energy delivered cannot be less than reported before."),
    # elderly-sos (高龄独居老人应急呼叫)
    "sos_not_enrolled": ErrorCode(403, "您没有可呼叫的登记老人",
                                  "No enrolled person may be alarmed for from this account."),
    "sos_device_unknown": ErrorCode(403, "此设备未登记为应急呼叫设备", "This device is not registered for SOS alarms."),
    "sos_no_call_centre": ErrorCode(503, "应急呼叫中心未配置，请拨打 120 或 110",
                                    "No call centre is configured: call 120 or 110."),
    "sos_use_alarms": ErrorCode(422, "请通过“一键呼叫”发起呼叫", "Raise an alarm with POST /alarms."),
    "sos_not_eligible": ErrorCode(422, "不符合登记条件（本市户籍、80 周岁及以上、独居）",
                                  "Not eligible (Shanghai household registration, aged 80 or over, living alone)."),
    "sos_person_unverified": ErrorCode(422, "没有此身份证号的实名认证居民",
                                       "No resident with a verified real name holds this ID number."),
    "sos_already_enrolled": ErrorCode(409, "此人已在册", "This person is enrolled already."),
    # parcel-locker
    "cell_occupied": ErrorCode(409, "该格口已有快件，请换一个格口", "This cell already holds a parcel."),
    "cell_unknown": ErrorCode(422, "该快件箱没有这个格口", "This locker has no such cell."),
    "locker_not_registered": ErrorCode(409, "该设备未登记为快件箱", "This device is not a registered parcel locker."),
    "parcel_wrong_locker": ErrorCode(409, "取件码不属于这个快件箱", "The pickup pass is for another locker."),
    "parcel_wrong_cell": ErrorCode(409, "取件码不属于这个格口", "The pickup pass is for another cell."),
    "parcel_not_stored": ErrorCode(409, "快件已被取走或已由运营方取回", "The parcel was picked up or retrieved."),
    "proxy_not_related": ErrorCode(422, "只能指定已确认的亲友代取", "Only a confirmed relation may pick up for you."),
    "pdf_invalid": ErrorCode(422, "PDF 文件无法读取（已损坏、已加密或没有页面）",
                             "The PDF cannot be read (corrupt, encrypted or without pages)."),
    "patient_unknown": ErrorCode(422, "没有登记该身份证号的患者", "No patient is on record with that ID number."),
    "follow_up_in_past": ErrorCode(422, "随访日期须晚于当前时间", "A follow-up must be due after now."),
    "no_prior_visit": ErrorCode(409, "没有在该医院的就诊记录，请先到医院就诊",
                                "No prior visit at that hospital is on record: see a doctor there first."),
    "renewal_beyond_limit": ErrorCode(422, "续方超过该药品的限量", "The renewal exceeds the medicine's limit."),
    "unknown_medicine": ErrorCode(422, "该药品不能在线续方", "That medicine cannot be renewed online."),
    "consult_decided": ErrorCode(409, "该复诊申请已处理（已续方或已请患者到院）",
                                 "This consultation has been decided (renewed or asked to come in)."),
    # parking (停车预约 / 错峰共享)
    "plate_invalid": ErrorCode(422, "号牌格式不正确", "Not a valid plate (7 characters, 8 for new-energy plates)."),
    "lot_not_reservable": ErrorCode(422, "该停车场不接受预约", "This car park takes no reservations."),
    "slot_not_at_lot": ErrorCode(422, "该到达时段不属于这个停车场", "This arrival window is not this car park's."),
    "contract_overlap": ErrorCode(409, "该车位在这些时段已有合同",
                                  "The space is under another contract in these hours."),
    "no_shared_space": ErrorCode(409, "该项目在这些时段没有空余车位", "No shared space is free in these hours."),
    "contract_in_past": ErrorCode(422, "合同月份已过", "That month is over."),
    "contract_started": ErrorCode(409, "合同已开始，不能取消", "The contract has started; it cannot be cancelled."),
    "contract_not_active": ErrorCode(409, "合同已取消", "The contract is cancelled."),
    "nothing_owed": ErrorCode(409, "目前无需缴费", "Nothing is owed now."),
    "stay_not_pending": ErrorCode(409, "该出场记录不需要人工定价", "This exit awaits no staff decision."),
    "debt_not_open": ErrorCode(409, "该欠费已缴清", "This debt is settled."),
}


def message_for(code: str, lang: str = "zh") -> str:
    entry = ERRORS[code]
    return entry.en if lang == "en" else entry.zh


class ApiError(Exception):
    """An error with a registered code; rendered by the handlers in ``app.api``.

    ``errors`` maps a field name (dotted for nested fields) to a list of messages.
    """

    def __init__(
        self,
        code: str,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | None = None,
        detail: Mapping[str, Any] | None = None,
        message: str | None = None,
    ) -> None:
        if code not in ERRORS:
            raise KeyError(f"unregistered error code {code!r}")
        super().__init__(code)
        self.code = code
        self.status = status or ERRORS[code].status
        self.errors = dict(errors) if errors else None
        self.headers = dict(headers) if headers else {}
        self.detail = dict(detail) if detail else None
        self.message = message


def field_error(code: str, field: str, msg: str, **kw: Any) -> ApiError:
    """Shortcut for an error about one field."""
    return ApiError(code, errors={field: [msg]}, **kw)
