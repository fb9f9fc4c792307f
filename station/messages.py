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
