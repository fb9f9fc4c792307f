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
        "not a valid plate (e.g. 渝A12345, 渝AD12345, 渝A1234挂); tick “other plate” for "
        "foreign, military or temporary plates"),
    "registration.problem.id-last4": ("证件号后 4 位：数字或字母",
                                      "last 4 of the ID: digits or letters"),
    "registration.problem.code-refused": ("健康码未通过核验：{reason}",
                                          "the code did not verify: {reason}"),
    "registration.problem.unknown-vehicle": ("没有这条车辆入场记录", "no such vehicle entry"),
    "registration.problem.unknown-visitor": ("没有这条访客入场记录", "no such visitor entry"),
    "registration.problem.already-out": ("已登记离开", "already registered as gone"),
    "registration.problem.unknown-alarm": ("没有这条发热告警", "no such fever alarm"),
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
