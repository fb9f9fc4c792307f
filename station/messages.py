"""Human messages for reason codes and words, in Chinese (default) and English.

Reason codes are the stable interface (ledger, sync, scenario output); the text shown or
spoken at the gate and printed for officers is derived from them here.
"""

from __future__ import annotations

from typing import Literal

Locale = Literal["zh_CN", "en"]

REASON_MESSAGES: dict[str, tuple[str, str]] = {
    # health-code verification (health-code.md)
    "format": ("不是健康通行码", "Not a health pass code"),
    "encoding": ("健康码编码损坏，请重新出示", "Code is damaged (encoding); show it again"),
    "compression": ("健康码数据损坏，请重新出示", "Code is damaged (compression); show it again"),
    "structure": ("健康码格式无效", "Code structure is invalid"),
    "unknown-key": ("健康码签发机构不受信任", "Code was issued by an untrusted issuer"),
    "signature": ("健康码签名无效（可能被篡改）", "Code signature is invalid (possibly altered)"),
    "claims": ("健康码内容无效", "Code content is invalid"),
    "not-yet-valid": ("健康码尚未生效，请检查设备时间", "Code is not valid yet; check the clock"),
    "expired": ("健康码已过期，请刷新", "Code has expired; refresh it"),
    "revoked": ("健康码已被撤销，请重新申领", "Code has been revoked; get a new one"),
    # entry policy (DESIGN.md, the entry rules)
    "color": ("健康码非绿码，禁止入厂", "Health code is not green: no entry"),
    "fever": ("体温异常，请到临时观察点复测", "Fever: go to the observation point"),
    "nat-missing": ("返岗人员须持7日内核酸阴性证明", "Returning worker: negative NAT required"),
    "nat-too-old": ("核酸检测超过7天，请重新检测", "NAT is older than 7 days before return"),
    "followup-nat-due": ("返岗第7/14天核酸检测未完成", "Day-7/day-14 follow-up NAT is due"),
    "monitoring": ("返岗人员健康监测期内", "Returning worker under health monitoring"),
    "sensor-fault": ("测温设备故障，请联系工作人员", "Thermometer fault: call staff"),
    "no-code": ("请出示健康码", "Show your health code"),
    "timeout": ("未完成测温，请重新扫码", "No temperature taken; scan again"),
    # vehicles (registration.md)
    "not-disinfected": ("车辆未消毒，禁止入厂", "Vehicle not disinfected: no entry"),
    "cold-chain": ("进口冷链货物车辆，禁止入厂", "Imported cold-chain goods: no entry"),
}

WORDS: dict[str, tuple[str, str]] = {
    "green": ("绿码", "green"),
    "yellow": ("黄码", "yellow"),
    "red": ("红码", "red"),
    "admit": ("准入", "admit"),
    "deny": ("拒绝", "deny"),
    "outside-municipality": ("市外返回", "outside the municipality"),
    "risk-district": ("中高风险地区返回", "medium/high-risk district"),
    "key-population": ("重点人群", "key population"),
    "valid": ("有效", "valid"),
}


# Every other sentence a person reads (CLI, console, reports): `text(key, locale, **fields)`.
# Keys are dotted by where they are used (`cli.…`, `console.…`, `report.…`); values are
# str.format templates in (Chinese, English).
TEXTS: dict[str, tuple[str, str]] = {
    # words used across commands
    "word.unit_c": ("°C", "°C"),
    "word.none": ("—", "—"),
    "device.thermometer": ("测温仪", "thermometer"),
    "device.camera": ("摄像头", "camera"),
    "device.scanner": ("扫码器", "scanner"),
    "device.ledger": ("台账", "ledger"),
    "device.green_led": ("绿灯", "green LED"),
    "device.red_led": ("红灯", "red LED"),
    "device.buzzer": ("蜂鸣器", "buzzer"),
    "device.relay": ("闸门继电器", "relay"),
    "device.outputs": ("输出设备", "outputs"),
    "device.serial": ("串口扫码器", "serial scanner"),
    "device.bundle": ("数据包", "bundle"),
    "device.sync": ("同步", "sync"),
    "kind.entry": ("入厂", "entry"),
    "kind.exit": ("出厂", "exit"),
    "kind.fault": ("故障", "fault"),
    "kind.alarm": ("告警", "alarm"),
    "kind.vehicle": ("车辆", "vehicle"),
    "kind.visitor": ("访客", "visitor"),
    "kind.ack": ("告警处置", "alarm handled"),
    "list.separator": ("；", "; "),
    # what a record's detail means (the ledger keeps the stable text; people read these)
    "record.fever_alarm": ("发热 {temperature} °C", "fever {temperature} °C"),
    "record.fever_alarm_plain": ("发热", "fever"),
    "record.device_fault": ("{device}故障 [{detail}]", "{device} fault [{detail}]"),
    "record.device_recovered": ("{device}已恢复", "{device}: recovered"),
    "record.ledger_recovered": (
        "台账已恢复：{since} 起无法写入；期间未登记而拒绝入厂 {count} 人",
        "ledger recovered: it could not be written from {since}; {count} people turned away "
        "unrecorded"),
    # record tables (log, simulate) and the register
    "table.seq": ("序号", "seq"),
    "table.time": ("时间", "time"),
    "table.kind": ("类型", "kind"),
    "table.subject": ("人员", "subject"),
    "table.name": ("姓名", "name"),
    "table.code": ("健康码", "code"),
    "table.decision": ("结果", "decision"),
    "table.reasons": ("原因", "reasons"),
    "table.first_entry": ("首次入厂", "first entry"),
    "table.entries": ("次数", "n"),
    "table.org": ("单位", "employer"),
    "table.day": ("日期", "day"),
    "table.hour": ("时段", "hour"),
    "table.admitted": ("准入", "admitted"),
    "table.denied": ("拒绝", "denied"),
    "table.fevers": ("发热", "fevers"),
    "table.count": ("次数", "count"),
    "table.reason_code": ("原因代码", "reason code"),
    "table.ambient": ("环境温度", "ambient °C"),
    "table.direction": ("方向", "direction"),
    "table.nat": ("最近核酸", "latest NAT"),
    "table.returned": ("返回日期", "returned"),
    "table.origin": ("返回类别", "origin"),
    "table.clock_synced": ("时钟已同步", "clock synced"),
    "table.detail": ("说明", "detail"),
    "table.temperature": ("体温°C", "°C"),
    "report.title": ("{enterprise} 入厂体温登记表  {day}",
                     "{enterprise} daily entry register  {day}"),
    "report.totals": (
        "人数 {people}；准入 {admitted} 次，拒绝 {denied} 次，出厂 {exits} 次，"
        "发热告警 {alarms} 次",
        "people {people}; admitted {admitted}, denied {denied}, exits {exits}, "
        "fever alarms {alarms}"),
    "report.unidentified": ("未识别身份的拒绝 {count} 次", "denied without an identity: {count}"),
    "report.alarms": ("发热告警（最新在前）", "fever alarms (newest first)"),
    "report.due": ("今明两天应做第7/14天核酸检测的返岗人员",
                   "returning workers whose day-7/day-14 test is due today or tomorrow"),
    "report.due_row": ("{subject}  {name}  返回 {returned}（{origin}）  第{day}天 {due}  "
                       "最近核酸 {nat}  {state}",
                       "{subject}  {name}  returned {returned} ({origin})  day {day} {due}  "
                       "latest NAT {nat}  {state}"),
    "report.done": ("已检测", "done"),
    "report.not_yet": ("未检测", "not yet"),
    "report.row_unidentified": ("未识别身份", "no identity"),
    "report.row_alarm": ("发热告警", "fever alarm"),
    "stats.title": ("统计 {first} 至 {last}", "statistics {first} to {last}"),
    "stats.by_reason": ("拒绝原因", "denials by reason"),
    "stats.moved": ("注意：最近 {days} 天台账中没有入厂记录，改为统计到台账最新记录的日期 {last}"
                    "（用 --until 指定最后一天）",
                    "note: no entries in the last {days} days; showing the {days} days up to "
                    "the ledger's newest day, {last} (give --until to choose the last day)"),
    "stats.empty": ("（此期间台账中没有入厂记录）", "(no entries in the ledger for these days)"),
    # command-line messages
    "cli.wrote": ("已写入 {path}", "wrote {path}"),
    "cli.no_code_found": ("{file}：未找到二维码", "{file}: no code found"),
    "cli.decode_error": ("{file}：错误：[{error}]", "{file}: error: {error}"),
    "cli.not_image": ("{file}：不是可读取的图片", "{file}: not a readable image"),
    "cli.check_ok": ("{path}：配置正确", "{path}: ok"),
    "cli.no_bundle_keys": (
        "{source}:town.bundle_keys：警告：未固定数据包公钥，从镇上收到的数据包不会被采用",
        "{source}:town.bundle_keys: warning: no bundle key is pinned: bundles received from "
        "the town are NOT applied"),
    "cli.check_defaults": ("（未找到配置文件，使用默认值）", "(no config file: defaults)"),
    "cli.invalid_code": ("无效：{reason} — {message}", "invalid: {reason} — {message}"),
    "cli.no_bundle": ("注意：{path} 处还没有数据包，不信任任何签发密钥",
                      "note: no bundle at {path} yet; trusting no key"),
    "cli.no_qr_in_image": ("{file}：未找到二维码", "{file}: no QR code found"),
    "cli.relay_off": ("继电器已断开", "relay off"),
    "cli.simulate_summary": ("{events} 个事件：准入 {admitted} 人，拒绝 {denied} 人",
                             "{events} events: {admitted} admitted, {denied} denied"),
    "cli.simulate_ledger": ("；台账 {path}", "; ledger {path}"),
    "cli.cannot_write": ("{path}：无法写入：{error}", "{path}: cannot write: {error}"),
    "os.ENOENT": ("所在文件夹不存在", "No such file or directory"),
    "os.ENOTDIR": ("路径中有一段不是文件夹", "Not a directory"),
    "os.EISDIR": ("这是一个文件夹", "Is a directory"),
    "os.EACCES": ("没有权限", "Permission denied"),
    "os.EPERM": ("不允许此操作", "Operation not permitted"),
    "os.EROFS": ("只读文件系统", "Read-only file system"),
    "os.ENOSPC": ("磁盘已满", "No space left on device"),
    "cli.beyond_calendar": ("{seconds}（超出公历范围的 Unix 秒数）",
                            "{seconds} (Unix seconds, beyond the calendar)"),
    "claims.issuer": ("签发机构", "issuer"),
    "claims.subject": ("人员编号", "subject"),
    "claims.name": ("姓名", "name"),
    "claims.color": ("健康码", "color"),
    "claims.issued": ("签发时间", "issued"),
    "claims.expires": ("有效期至", "expires"),
    "claims.nat": ("最近核酸阴性", "latest negative NAT"),
    "claims.returned": ("返回", "returned"),
    "claims.employer": ("单位", "employer"),
    "claims.returned_value": ("{date}（{origin}）", "{date} ({origin})"),
    # selftest
    "selftest.ok": ("正常", "ok"),
    "selftest.fail": ("失败", "FAIL"),
    "selftest.summary": ("通过 {passed} 项，失败 {failed} 项", "{passed} passed, {failed} failed"),
    "selftest.check.open": ("打开", "open"),
    "selftest.check.ambient": ("环境温度", "ambient"),
    "selftest.check.object": ("目标温度", "object"),
    "selftest.check.emissivity": ("发射率", "emissivity"),
    "selftest.check.camera": ("摄像头解码", "camera"),
    "selftest.check.serial": ("串口解码", "serial"),
    "selftest.check.on_off": ("开/关", "on/off"),
    "selftest.check.skipped": ("已跳过", "skipped"),
    "selftest.celsius": ("{value:.2f} °C", "{value:.2f} °C"),
    "selftest.emissivity": ("{value:.3f}", "{value:.3f}"),
    "selftest.emissivity_changed": ("{value:.3f}（原为 {before:.3f}；请断电重启传感器）",
                                    "{value:.3f} (was {before:.3f}; power-cycle the sensor)"),
    "selftest.decoded": ("测试码解码正确", "decoded the test code"),
    "selftest.decoded_wrong": ("解码结果不对：{got!r}", "decoded {got!r}, not the test code"),
    "selftest.read": ("读到：{got!r}", "read {got!r}"),
    "selftest.no_code": ("设备已打开，视野中没有二维码", "device open, no code in view"),
    "selftest.pulse": ("亮/响 {seconds:.1f} 秒后关闭", "on {seconds:.1f} s, then off"),
    "selftest.pin_stuck": ("引脚没有跟随 开→关", "pin did not follow on → off"),
    "selftest.relay_skipped": ("未动作（加 --relay 才测继电器）", "not clicked (use --relay)"),
    # revocations (trust list)
    "trust.revoked_before": ("{sub}：{before} 之前签发的码已撤销",
                             "{sub}: codes issued before {before} are revoked"),
    # hardware
    "hw.no_pin_factory": (
        "GPIO：本机没有可用的引脚驱动（{tried}）；不是树莓派？请设置 drivers: fake，"
        "或安装 python3-lgpio",
        "GPIO: no pin factory works here ({tried}); not a Raspberry Pi? set drivers: fake, "
        "or install python3-lgpio"),
    # registration forms (station/registration.py): why a field was refused
    "registration.problem.required": ("必填", "required"),
    "registration.problem.not-text": ("应为文字", "must be text"),
    "registration.problem.control-characters": ("含有不可见控制字符",
                                                "contains control characters"),
    "registration.problem.too-long": ("最多 {limit} 个字", "at most {limit} characters"),
    "registration.problem.choice": ("请选择：{choices}", "choose one of: {choices}"),
    "registration.problem.not-yes-no": ("应为是或否", "must be yes or no"),
    "registration.problem.not-a-number": ("应为数字", "must be a number"),
    "registration.problem.range": ("应在 {low} 至 {high} 之间", "must be from {low} to {high}"),
    "registration.problem.phone": ("应为 11 位手机号（1 开头，第二位 3–9）",
                                   "must be an 11-digit mainland mobile number (1[3-9]…)"),
    "registration.problem.plate": (
        "不是有效的车牌号（如 渝A12345、渝AD12345、渝A1234挂）；其他车牌请勾选“其他号牌”",
        "not a valid mainland plate: province, a letter, then 5 letters or digits (6 for a "
        "new-energy plate, or 4 and a trailer/learner/police mark); tick “other plate” for "
        "foreign, military or temporary plates"),
    "registration.problem.id-last4": ("证件号后 4 位：数字或字母",
                                      "last 4 of the ID: digits or letters"),
    "registration.problem.code-refused": ("健康码未通过核验：{reason}",
                                          "the code did not verify: {reason}"),
    "registration.problem.unknown-vehicle": ("没有这条车辆入场记录", "no such vehicle entry"),
    "registration.problem.unknown-visitor": ("没有这条访客入场记录", "no such visitor entry"),
    "registration.problem.already-out": ("已登记离开", "already registered as gone"),
    "registration.problem.unknown-alarm": ("没有这条发热告警", "no such fever alarm"),
    # registration records in tables (log) and the vehicle and visitor registers
    "record.out": ("离场", "out"),
    "record.ack": ("{action}（告警 {ref}）", "{action} (alarm {ref})"),
    "record.remeasured": ("复测 {temperature} °C", "re-measured {temperature} °C"),
    "action.remeasured-normal": ("复测正常", "re-measured normal"),
    "action.sent-to-clinic": ("送医疗机构", "sent to clinic"),
    "action.sent-home": ("劝返回家", "sent home"),
    "action.isolated": ("临时隔离", "isolated"),
    "action.reported": ("已上报", "reported"),
    "action.other": ("其他", "other"),
    "vehicle_type.truck": ("货车", "truck"),
    "vehicle_type.van": ("厢式车", "van"),
    "vehicle_type.car": ("小客车", "car"),
    "vehicle_type.bus": ("客车", "bus"),
    "vehicle_type.other": ("其他", "other"),
    "code_checked.thp1": ("扫码核验", "scanned"),
    "code_checked.shown": ("出示", "shown"),
    "code_checked.none": ("无", "none"),
    "word.yes": ("是", "yes"),
    "word.no": ("否", "no"),
    "visits.vehicle.title": ("{enterprise} 车辆登记表 {day}", "{enterprise} vehicle register "
                             "{day}"),
    "visits.visitor.title": ("{enterprise} 外来人员登记表 {day}", "{enterprise} visitor register "
                             "{day}"),
    "visits.totals": ("入场 {n} 次：准入 {admitted}，拒绝 {denied}；已离场 {left}，仍在场 "
                      "{inside}；发热 {fevers}",
                      "{n} in: {admitted} admitted, {denied} refused; {left} left, {inside} "
                      "still inside; {fevers} fevers"),
    "visits.signature": ("登记人：__________    安全员签字：__________",
                         "Registered by: __________    Safety officer: __________"),
    "visits.col.no": ("序号", "No."),
    "visits.col.in_time": ("入场时间", "In"),
    "visits.col.out_time": ("离场时间", "Out"),
    "visits.col.plate": ("车牌号", "Plate"),
    "visits.col.vehicle_type": ("车型", "Type"),
    "visits.col.carrier": ("承运单位", "Carrier"),
    "visits.col.driver_name": ("司机", "Driver"),
    "visits.col.driver_phone": ("司机手机", "Driver's mobile"),
    "visits.col.occupants": ("随车人数", "Occupants"),
    "visits.col.origin": ("出发地", "Origin"),
    "visits.col.via_risk_area": ("途经风险地区", "Via risk area"),
    "visits.col.cargo": ("货物", "Cargo"),
    "visits.col.cold_chain": ("进口冷链", "Cold chain"),
    "visits.col.disinfected": ("已消毒", "Disinfected"),
    "visits.col.disinfection_method": ("消毒方式", "Method"),
    "visits.col.disinfection_operator": ("消毒人", "Disinfected by"),
    "visits.col.host": ("接待", "Host"),
    "visits.col.name": ("姓名", "Name"),
    "visits.col.phone": ("手机", "Mobile"),
    "visits.col.id_last4": ("证件后4位", "ID last 4"),
    "visits.col.organisation": ("单位", "Organisation"),
    "visits.col.purpose": ("事由", "Purpose"),
    "visits.col.vehicle": ("所乘车辆", "Vehicle"),
    "visits.col.code": ("健康码", "Code"),
    "visits.col.temperature_c": ("体温", "°C"),
    "visits.col.decision": ("结果", "Decision"),
    "visits.col.reasons": ("原因", "Reasons"),
    "visits.col.operator": ("登记人", "Operator"),
    # errors a person reads (issue 15): files, keys, codes and numbers stay as they are;
    # a library's or the OS's own technical words are quoted in [brackets]
    "problem.line": ("{where}: {problem}", "{where}: {problem}"),  # FILE:KEY: as in en
    "problem.where": ("{source}{separator}{place}", "{source}{separator}{place}"),
    "pydantic.missing": ("缺少必填项", "{msg}"),
    "pydantic.extra_forbidden": ("未知的键", "unknown key"),
    "pydantic.greater_than_equal": ("须大于或等于 {ge}", "{msg}"),
    "pydantic.greater_than": ("须大于 {gt}", "{msg}"),
    "pydantic.less_than_equal": ("须小于或等于 {le}", "{msg}"),
    "pydantic.less_than": ("须小于 {lt}", "{msg}"),
    "pydantic.literal_error": ("须为 {expected_zh}", "{msg}"),
    "pydantic.enum": ("须为 {expected_zh}", "{msg}"),
    "pydantic.int_type": ("须为整数", "{msg}"),
    "pydantic.int_parsing": ("须为整数", "{msg}"),
    "pydantic.int_from_float": ("须为整数（不能有小数部分）", "{msg}"),
    "pydantic.float_type": ("须为数字", "{msg}"),
    "pydantic.float_parsing": ("须为数字", "{msg}"),
    "pydantic.finite_number": ("须为有限的数字", "{msg}"),
    "pydantic.bool_type": ("须为 true 或 false", "{msg}"),
    "pydantic.bool_parsing": ("须为 true 或 false", "{msg}"),
    "pydantic.string_type": ("须为文本", "{msg}"),
    "pydantic.string_too_short": ("文本至少 {min_length} 个字符", "{msg}"),
    "pydantic.string_too_long": ("文本至多 {max_length} 个字符", "{msg}"),
    "pydantic.string_pattern_mismatch": ("格式不符（须匹配 {pattern}）", "{msg}"),
    "pydantic.too_short": ("至少 {min_length} 项", "{msg}"),
    "pydantic.too_long": ("至多 {max_length} 项", "{msg}"),
    "pydantic.list_type": ("须为列表", "{msg}"),
    "pydantic.tuple_type": ("须为列表", "{msg}"),
    "pydantic.dict_type": ("须为映射（键: 值）", "{msg}"),
    "pydantic.model_type": ("须为映射（键: 值）", "{msg}"),
    "pydantic.model_attributes_type": ("须为映射（键: 值）", "{msg}"),
    "pydantic.date_type": ("须为日期 YYYY-MM-DD", "{msg}"),
    "pydantic.date_parsing": ("须为日期 YYYY-MM-DD", "{msg}"),
    "pydantic.date_from_datetime_parsing": ("须为日期 YYYY-MM-DD", "{msg}"),
    "pydantic.date_from_datetime_inexact": ("须为日期 YYYY-MM-DD（不含时刻）", "{msg}"),
    "pydantic.datetime_type": ("须为 ISO 8601 时间", "{msg}"),
    "pydantic.datetime_parsing": ("须为 ISO 8601 时间", "{msg}"),
    "pydantic.time_type": ("须为时刻 HH:MM:SS", "{msg}"),
    "pydantic.time_parsing": ("须为时刻 HH:MM:SS", "{msg}"),
    "pydantic.value_error": ("取值无效", "{msg}"),
    "pydantic.assertion_error": ("取值无效", "{msg}"),
    "pydantic.none_required": ("须留空", "{msg}"),
    "config.station_id": ("须为 1–64 个字符（A-Z a-z 0-9 . _ -）", "must be {rule}"),
    "config.no_decoder": ("至少需要一个解码器", "needs at least one decoder"),
    "config.pin_twice": ("GPIO{pin} 同时被 {first} 和 {second} 使用",
                         "GPIO{pin} is used by both {first} and {second}"),
    "config.window_order": ("window：起始天数大于结束天数",
                            "window: first day is after the last day"),
    "config.plausible_order": ("plausible_c：下限须低于上限",
                               "plausible_c: low must be below high"),
    "config.https": ("须以 https:// 开头", "must start with https://"),
    "config.http_loopback": ("只有本机地址（localhost、127.0.0.0/8、::1）可以用 http://，"
                             "其他请用 https://",
                             "http:// is allowed only to a loopback host (localhost, "
                             "127.0.0.0/8, ::1); use https://"),
    "config.bundle_key": ("{error}：每一项须为 Ed25519 数据包密钥的 base64 DER "
                          "SubjectPublicKeyInfo",
                          "{error}: each entry is the base64 DER SubjectPublicKeyInfo of an "
                          "Ed25519 bundle key"),
    "config.host_port": ("须为 主机:端口，例如 127.0.0.1:8090",
                         "must be HOST:PORT, e.g. 127.0.0.1:8090"),
    "config.no_such_file": ("{path}：配置文件不存在", "{path}: no such config file"),
    "config.top_level": ("{source}：顶层须为各个配置段的映射",
                         "{source}: the top level must be a mapping of sections"),
    "config.drivers_env": ("{name}={value}：只能是 fake 或 real（小写）；不设置则使用 "
                           "config.yaml 的 drivers:",
                           "{name}={value}: must be exactly fake or real (lowercase); "
                           "unset it to use `drivers:` from config.yaml"),
    "config.token_file_missing": ("{source}:town.token_file：{token}：文件不存在（令牌由镇服务器"
                                  "用 town-server stations add 签发）",
                                  "{source}:town.token_file: {token}: no such file (the town "
                                  "issues the token with `town-server stations add`)"),
    "yaml.duplicate_key": ("{where}：键 {key_name} 重复（第一次在第 {first} 行）",
                           "{where}: duplicate key {key_name} (first at line {first})"),
    "yaml.invalid": ("{where}：不是有效的 YAML：[{problem}]",
                     "{where}: not valid YAML: {problem}"),
    "file.is_folder": ("{path}：这是文件夹，不是文件", "{path}: is a folder, not a file"),
    "file.is_not_folder": ("{path}：这是文件，不是文件夹", "{path}: is a file, not a folder"),
    "file.cannot_read": ("{path}：无法读取：{error}", "{path}: cannot read: {error}"),
    "file.not_utf8": ("{path}：不是 UTF-8 文本", "{path}: not UTF-8 text"),
    "file.not_json": ("{path}：不是有效的 JSON：[{error}]", "{path}: not valid JSON: {error}"),
    "ledger.cannot_open": ("{path}：无法打开台账：[{error}]",
                           "{path}: cannot open the ledger: {error}"),
    "ledger.not_simulated": ("{path}：这个台账不是 gate-station simulate 生成的，模拟从不写入它",
                             "{path}: a ledger not made by `gate-station simulate`: a "
                             "simulation never writes into it"),
    "ledger.missing": ("{path}：这里没有台账", "{path}: no ledger here"),
    "ledger.too_new": ("{path}：台账结构版本 {version} 比本程序新",
                       "{path}: ledger schema {version} is newer than this program"),
    "ledger.not_ledger": ("{path}：不是 gate-station 台账", "{path}: not a gate-station ledger"),
    "ledger.read_only": ("{path}：台账以只读方式打开", "{path}: opened read-only"),
    "ledger.cannot_write": ("{path}：无法写入台账：[{error}]",
                            "{path}: cannot write the ledger: {error}"),
    "ledger.cannot_read": ("{path}：无法读取台账：[{error}]",
                           "{path}: cannot read the ledger: {error}"),
    "scenario.bad_at": ("{source}：第 {number} 个事件：at：{value} 不是 时:分:秒、+秒数 或 "
                        "ISO 8601 时间",
                        "{source}: event {number}: at: {value} is not HH:MM:SS, +N s or an "
                        "ISO 8601 time"),
    "scenario.at_before": ("{source}：第 {number} 个事件：at：{value} 早于上一个事件",
                           "{source}: event {number}: at: {value} is before the previous "
                           "event"),
    "scenario.not_mapping": ("{source}：场景须为含 start 和 events 的映射",
                             "{source}: a scenario is a mapping with start and events"),
    "scenario.bad_start": ("{source}：start：{value} 不是 ISO 8601 时间",
                           "{source}: start: {value} is not an ISO 8601 time"),
    "scenario.policy": ("{source}：{problem}", "{source}: {problem}"),
    "scenario.not_one_qr": ("{source}：第 {number} 个事件：无法显示为一个二维码：[{error}]",
                            "{source}: event {number}: cannot be shown as one QR code: "
                            "{error}"),
    "sync.token_unreadable": ("{path}：无法读取站点令牌：{error}",
                              "{path}: cannot read the station token: {error}"),
    "sync.token_open": ("{path}：其他用户可以读取令牌文件（权限 {mode}）：请 chmod 600，或加 "
                        "--insecure-token-file",
                        "{path}: the token file can be read by other users (mode {mode}): "
                        "chmod 600 it, or give --insecure-token-file"),
    "sync.token_empty": ("{path}：站点令牌文件是空的", "{path}: the station token file is empty"),
    "sync.no_url": ("配置：未设置 town.url，没有可同步的镇服务器",
                    "config: town.url is not set: there is no town to sync to"),
    "sync.no_token_file": ("配置：未设置 town.token_file", "config: town.token_file is not set"),
    "sync.simulated_ledger": ("{path}：这个台账是 gate-station simulate 生成的，记录不是真实人员，"
                              "未发送任何内容（--allow-simulated 会标记为模拟数据后推送）",
                              "{path}: this ledger was made by `gate-station simulate`; its "
                              "records are not real people and nothing was sent "
                              "(--allow-simulated pushes them marked as simulated)"),
    # console accounts (station/console/cli.py, accounts.py)
    "account.bad_name": ("用户名 {name}：须为 1–32 个字母、数字、'.'、'_' 或 '-'（可用汉字）",
                         "user name {name}: must be {rule}"),
    "account.short_password": ("密码：至少 {count} 个字符",
                               "password: at least {count} characters"),
    "account.long_password": ("密码：至多 {count} 个字符",
                              "password: at most {count} characters"),
    "account.cannot_open": ("{path}：无法打开控制台账户库：[{error}]",
                            "{path}: cannot open the console accounts: {error}"),
    "account.database": ("{path}：[{error}]", "{path}: {error}"),
    "account.bad_role": ("角色 {role}：须为 officer 或 guard", "role {role}: must be officer or "
                         "guard"),
    "account.exists": ("用户 {name} 已存在", "user {name} exists already"),
    "account.unknown": ("没有用户 {name}", "no user {name}"),
    "account.added": ("已添加 {name}（{role}）", "added {name} ({role})"),
    "account.disabled_done": ("已停用 {name}", "disabled {name}"),
    "account.role.officer": ("安全员", "officer"),
    "account.role.guard": ("门卫", "guard"),
    "account.enabled": ("启用", "enabled"),
    "account.disabled": ("停用", "disabled"),
    "account.never": ("从未", "never"),
    "account.last_login": ("最近登录 {when}", "last login {when}"),
    "account.prompt": ("密码", "Password"),
    "account.prompt_again": ("再输入一次密码", "Repeat for confirmation"),
    # `gate-station sync --once` (sync/client.py): what it did; a fault the town also sees
    # stays as it is, in [brackets]
    "sync.progress": ("… 已推送 {pushed} 条，剩余 {left} 条", "… pushed {pushed}, {left} left"),
    "sync.summary": ("已推送 {pushed} 条，重复 {duplicates} 条，隔离 {quarantined} 条，剩余 "
                     "{left} 条；数据包：{outcome}（{version}）",
                     "pushed {pushed}, duplicates {duplicates}, quarantined {quarantined}, "
                     "{left} left; bundle {outcome} ({version})"),
    "sync.outcome.not_fetched": ("未取得", "not fetched"),
    "sync.outcome.applied": ("已采用新包", "applied"),
    "sync.outcome.unchanged": ("未变", "unchanged"),
    "sync.outcome.kept": ("拒收，保留原包", "kept"),
    "sync.outcome.not_pinned": ("收到但未采用（未固定 town.bundle_keys）",
                                "not applied (no town.bundle_keys)"),
    "sync.gave_up": ("{seconds} 秒没有进展，已放弃：{fault}",
                     "gave up after {seconds} s without progress: {fault}"),
    "sync.unreachable": ("无法连接镇服务器", "the town is unreachable"),
    "sync.fault": ("[{fault}]", "{fault}"),
    "sync.interrupted": ("已中断", "interrupted"),
    "sync.records_left": ("仍有记录未同步", "records left"),
    "sync.once_kept": ("sync --once：{reason}；{left} 条记录保留在台账中",
                       "sync --once: {reason}; {left} records kept"),
    "simulate.own_ledger": ("{path}：这是本站自己的台账（ledger.path），模拟只写入自己的台账"
                            "（换一个 --ledger，或不给）",
                            "{path}: this is the station's own ledger (ledger.path); a "
                            "simulation writes only into a ledger of its own (give another "
                            "--ledger, or none)"),
    "simulate.not_simulated": ("{path}：这个台账不是 gate-station simulate 生成的，模拟从不写入它"
                               "（给一个新的 --ledger，或不给）",
                               "{path}: a ledger not made by `gate-station simulate`: a "
                               "simulation never writes into it (give a new --ledger, or none)"),
    "cli.date_overflow": ("gate-station：日期或时间超出公历范围（1–9999 年）",
                          "gate-station: that date or time is beyond the calendar (years "
                          "1–9999)"),
    # JSON documents: the trust list, the bundle, a signed bundle (station/trust.py,
    # bundle.py, signed_bundle.py, bundle_keys.py); {where} is FILE: FIELD as in en
    "doc.not_object": ("{where}：须为 JSON 对象", "{where}: must be a JSON object"),
    "doc.must_be_object": ("{where}：须为对象", "{where}: must be an object"),
    "doc.must_be_list": ("{where}：须为列表", "{where}: must be a list"),
    "doc.must_be_text": ("{where}：须为文本", "{where}: must be text"),
    "doc.field_must_be_list": ("{where}：{name} 须为列表", "{where}: {name} must be a list"),
    "doc.field_must_be_text": ("{where}：{name} 须为文本", "{where}: {name} must be text"),
    "doc.field_must_be_object": ("{where}：{name} 须为对象", "{where}: {name} must be an object"),
    "doc.missing_text": ("{where}：缺少，或不是文本", "{where}: missing or not text"),
    "doc.unknown_field": ("{where}：未知字段 {name}", "{where}: unknown field {name}"),
    "doc.unknown_field_ignored": ("{where}：未知字段 {name}，已忽略",
                                  "{where}: unknown field {name} ignored"),
    "doc.unknown_rule": ("{where}：未知规则，已忽略", "{where}: unknown rule, ignored"),
    "doc.time_with_offset": ("{where}：须为带时区偏移的 ISO 8601 时间",
                             "{where}: must be an ISO 8601 time with offset"),
    "doc.not_time": ("{where}：{value} 不是 ISO 8601 时间", "{where}: {value} is not an ISO "
                     "8601 time"),
    "doc.no_offset": ("{where}：{value} 没有时区偏移", "{where}: {value} has no UTC offset"),
    "doc.not_base64": ("{where}：不是 base64（RFC 4648，带 = 填充）",
                       "{where}: not base64 (RFC 4648, with padding)"),
    "trust.not_object": ("{where}：须为含 keys 和 revocations 的 JSON 对象",
                         "{where}: must be a JSON object with keys and revocations"),
    "trust.revocation_shape": ("{where}：须为含 sub 和 before 的对象",
                               "{where}: must be an object with sub and before"),
    "trust.sub": ("{where}：须为 1–32 个字符的文本", "{where}: must be text of 1–32 characters"),
    "trust.before": ("{where}：须为 Unix 秒数（整数）",
                     "{where}: must be epoch seconds (a whole number)"),
    "trust.alg": ("{where}：{value} 不在 {algs} 之中", "{where}: {value} is not one of {algs}"),
    "trust.spki": ("{where}：不是 base64 编码的 DER SubjectPublicKeyInfo",
                   "{where}: not a base64 DER SubjectPublicKeyInfo"),
    "trust.kid_mismatch": ("{where}：kid 与 spki 的 SHA-256 不符（kid {kid_hex}，JSON kid "
                           "{kid}）；已忽略此密钥",
                           "{where}: kid does not match the SHA-256 of spki (kid {kid_hex}, "
                           "JSON kid {kid}); key ignored"),
    "bundle_key.not_ed25519": ("不是 Ed25519 密钥（数据包密钥都是 Ed25519）",
                               "not an Ed25519 key (bundle keys are Ed25519)"),
    "bundle_key.not_spki": ("不是 DER SubjectPublicKeyInfo", "not a DER SubjectPublicKeyInfo"),
    "bundle_key.not_base64": ("不是 base64（RFC 4648，带 = 填充）",
                              "not base64 (RFC 4648, with padding)"),
    "bundle_key.entry": ("[{index}]：{error}", "[{index}]: {error}"),
    "refused.not_json": ("镇服务器的应答不是 JSON", "the answer is not JSON"),
    "refused.not_object": ("应答不是签名数据包（不是 JSON 对象）",
                           "the answer is not a signed bundle (not a JSON object)"),
    "refused.unsigned": ("数据包没有签名（缺少 payload/signature）",
                         "the bundle is not signed (no payload/signature)"),
    "refused.alg": ("alg {alg} 不是 EdDSA", "alg {alg} is not EdDSA"),
    "refused.not_base64": ("{name} 不是 base64（RFC 4648，带 = 填充）",
                           "{name} is not base64 (RFC 4648, with padding)"),
    "refused.lengths": ("kid 须为 8 字节，signature 须为 64 字节",
                        "kid must be 8 bytes and signature 64 bytes"),
    "refused.unknown_kid": ("签名密钥 kid {kid_hex} 不是被接受的数据包密钥",
                            "signed with kid {kid_hex}, which is not an accepted bundle key"),
    "refused.signature": ("签名无法用数据包密钥 {kid_hex} 验证",
                          "the signature does not verify with bundle key {kid_hex}"),
    "refused.time": ("{name} 须为带时区偏移的 ISO 8601 时间",
                     "{name} must be an ISO 8601 time with a UTC offset"),
    "refused.payload_not_json": ("payload 不是 JSON：[{error}]",
                                 "the payload is not JSON: {error}"),
    "refused.payload_not_object": ("payload 不是 JSON 对象", "the payload is not a JSON object"),
    "refused.lacks": ("文档缺少 {names}", "the document lacks {names}"),
    "refused.serial": ("serial 须为小于 2^53 的正整数",
                       "serial must be a positive integer below 2^53"),
    "refused.bundle_keys": ("bundle_keys 须为非空的 base64 SPKI 列表，或 null",
                            "bundle_keys must be a non-empty list of base64 SPKI or null"),
    "refused.bundle_key": ("bundle_keys{error}", "bundle_keys{error}"),
    "refused.too_big": ("应答超过 {limit} 字节", "the answer is over {limit} bytes"),
    "refused.no_keys": ("没有被接受的数据包密钥（{source} 中没有）：收到的数据包一律不采用",
                        "no bundle key is accepted ({source} gives none): no received bundle "
                        "is applied"),
    "refused.old_serial": ("serial {serial} 不高于已采用的 serial {current}（重放或旧包）",
                           "serial {serial} is not above the applied serial {current} "
                           "(replayed or older)"),
    "refused.expired": ("数据包 {serial} 已于 {expires} 过期",
                        "bundle {serial} expired at {expires}"),
    "codes.unknown_origin": ("未知的返回类别 {value}；可选：{known}",
                             "unknown origin {value}; known: {known}"),
    # issuer key files (station/keys.py)
    "keys.cannot_read": ("{path}：无法读取密钥：{error}", "{path}: cannot read key: {error}"),
    "keys.not_private_pem": ("{path}：不是未加密的 PEM 私钥",
                             "{path}: not an unencrypted PEM private key"),
    "keys.issuer_kind": ("{path}：签发密钥须为 Ed25519 或 ECDSA P-256",
                         "{path}: issuer keys are Ed25519 or ECDSA P-256"),
    "keys.not_public_pem": ("{path}：不是 PEM 公钥", "{path}: not a PEM public key"),
    "keys.cannot_write": ("{path}：无法写入：{error}", "{path}: cannot write: {error}"),
    "keys.cannot_save": ("{path}：无法保存密钥：{error}", "{path}: cannot save the key: {error}"),
    "keys.exists": ("{path}：文件已存在，不会覆盖", "{path}: already exists; not overwritten"),
    "keys.kid_text": ("{kid_hex}（JSON kid {kid}）", "{kid_hex} (JSON kid {kid})"),
    # scenario events (station/scenario.py)
    "scenario.event": ("第 {number} 个事件", "event {number}"),
    "scenario.event_key": ("第 {number} 个事件: {place}", "event {number}: {place}"),
    "scenario.code_and_qr": ("code 和 qr 只能给一个", "give code or qr, not both"),
    "scenario.one_thing": ("一个事件只能是以下之一：一个人（code/qr/temperature）、fault、recover、"
                           "exit、power_cut 或 ntp",
                           "an event is one of: a person (code/qr/temperature), fault, "
                           "recover, exit, power_cut, or ntp"),
    # what people type on the command line (station/timeparse.py)
    "time.not_duration": ("{value} 不是时长（如 30s、15m、24h、2d）",
                          "{value} is not a duration like 30s, 15m, 24h or 2d"),
    "time.not_instant": ("{value} 不是 ISO 8601 时间（如 2021-02-01T07:30:00+08:00）",
                         "{value} is not an ISO 8601 time like 2021-02-01T07:30:00+08:00"),
    "time.not_date": ("{value} 不是日期（如 2021-01-29）", "{value} is not a date like 2021-01-29"),
    # click's usage errors, in the catalogue's words (station/usage.py)
    "usage.line": ("{command}：{problem}（用法见 {command} --help）",
                   "{command}: {problem} (see {command} --help)"),
    "usage.missing_argument": ("缺少参数 {name}", "missing argument {name}"),
    "usage.missing_option": ("缺少选项 {name}", "missing option {name}"),
    "usage.no_such_option": ("没有选项 {name}", "no such option {name}"),
    "usage.no_such_command": ("没有命令 {name}", "no such command {name}"),
    "usage.missing_command": ("缺少子命令", "missing command"),
    "usage.did_you_mean": ("{problem}（是不是 {names}？）", "{problem} (did you mean {names}?)"),
    "usage.needs_value": ("选项 {name} 后面须跟一个值", "option {name} needs a value"),
    "usage.needs_values": ("选项 {name} 后面须跟 {count} 个值",
                           "option {name} needs {count} values"),
    "usage.takes_no_value": ("选项 {name} 不带值", "option {name} takes no value"),
    "usage.extra_arguments": ("多余的参数：{args}", "unexpected extra arguments: {args}"),
    "usage.bad_value": ("{name} 的值无效：{problem}", "invalid value for {name}: {problem}"),
    "usage.bad_value_plain": ("值无效：{problem}", "invalid value: {problem}"),
    "usage.choice": ("{value} 不是可选值（可选：{choices}）", "{value} is not one of {choices}"),
    "usage.range": ("{value} 不在范围 {range} 内", "{value} is not in the range {range}"),
    "usage.not_integer": ("{value} 不是整数", "{value} is not a whole number"),
    "usage.not_number": ("{value} 不是数字", "{value} is not a number"),
    "usage.path_missing": ("{path} 不存在", "{path} does not exist"),
    "usage.path_is_folder": ("{path} 是文件夹，这里要的是文件", "{path} is a folder, not a file"),
    "usage.path_is_file": ("{path} 是文件，这里要的是文件夹", "{path} is a file, not a folder"),
    "usage.other": ("用法错误：[{message}]", "{message}"),
    "usage.config_twice": ("--config 给了两次：{first} 和 {second}",
                           "--config given twice: {first} and {second}"),
    "usage.date_or_range": ("给 --date，或给 --from/--to，不能同时给",
                            "give --date, or --from/--to, not both"),
    "usage.code_or_file": ("给健康码文本 TEXT 或 --file IMAGE（二选一）",
                           "give the code TEXT or --file IMAGE (one of them)"),
}


def text(key: str, locale: Locale = "zh_CN", **fields: object) -> str:
    """The catalogue sentence `key` in `locale`, filled with `fields`. KeyError for an unknown
    key: a missing translation is a bug the catalogue test must catch, not a silent fallback."""
    return _pick(TEXTS[key], locale).format(**fields)


def _pick(pair: tuple[str, str], locale: Locale) -> str:
    return pair[0] if locale == "zh_CN" else pair[1]


def reason_message(reason: str, locale: Locale = "zh_CN") -> str:
    pair = REASON_MESSAGES.get(reason)
    return _pick(pair, locale) if pair else reason


def word(key: str, locale: Locale = "zh_CN") -> str:
    pair = WORDS.get(key)
    return _pick(pair, locale) if pair else key


def os_error_text(error: OSError, locale: Locale = "zh_CN") -> str:
    """An OSError's reason for people: the common ones from the catalogue, any other as the
    system states it."""
    import errno

    name = errno.errorcode.get(error.errno or 0, "")
    key = f"os.{name}"
    if key in TEXTS:
        return text(key, locale)
    return str(error.strerror or error)
