"""Every sentence the town server shows a person, in one place.

The town's staff read Chinese first: the dashboard is in Chinese, English by the switch at
its top (a cookie per browser; the default is the server's `--locale`). The
`town-server` command line speaks the administrator's locale, like the station's: zh_CN
unless `--locale en` (or `TOWN_LOCALE=en`); each sentence is a (Chinese, English) pair in
`CLI`, and `cli()` gives a `TownText` whose str is the English one. API error details and
the server's journal are English and stable (stations and scripts read them).
"""

from __future__ import annotations

from typing import Any

from station.errors import Localized, localize
from station.messages import Locale

CLI: dict[str, tuple[str, str]] = {
    # the database file
    "db-missing": ("{path}：这里没有镇数据库；用 `town-server db init --db {path}` 新建",
                   "{path}: no town database here; create one with `town-server db init --db "
                   "{path}`"),
    "db-no-dir": ("{path}：文件夹 {parent} 不存在",
                  "{path}: the directory {parent} does not exist"),
    "db-exists": ("{path}：已存在；`db init` 只新建数据库",
                  "{path}: already exists; `db init` makes a new database only"),
    "db-not-town": ("{path}：不是镇数据库", "{path}: not a town database"),
    "db-old": ("{path}：数据库结构版本 {version}，本 town-server 需要 {wanted}：请运行 "
               "`town-server db upgrade --db {path}`",
               "{path}: schema version {version}, this town-server needs {wanted}: run "
               "`town-server db upgrade --db {path}`"),
    "db-new": ("{path}：数据库结构版本 {version} 比本 town-server 的（{wanted}）新：请升级 "
               "town-server",
               "{path}: schema version {version} is newer than this town-server's "
               "({wanted}): upgrade town-server"),
    "db-unusable": ("{path}：无法使用镇数据库：[{error}]",
                    "{path}: cannot use the town database: {error}"),
    "db-cannot-create": ("{path}：无法新建：{error}", "{path}: cannot create: {error}"),
    "db-created": ("已新建镇数据库 {path}（结构版本 {version}，权限 0600）",
                   "created town database {path} (schema {version}, mode 0600)"),
    "db-created-pg": ("已新建镇数据库 {path}（结构版本 {version}）",
                      "created town database {path} (schema {version})"),
    "db-url-scheme": ("{scheme}://…：镇数据库须为文件路径或 postgresql:// 网址",
                      "{scheme}://…: a town database is a file path or a postgresql:// URL"),
    "db-url-parse": ("无法解析该 postgresql:// 网址", "the postgresql:// URL cannot be parsed"),
    "db-migrated": ("{path}：数据库结构已从 {old} 迁移到 {new}",
                    "{path}: migrated schema {old} → {new}"),
    "db-current": ("{path}：数据库结构已是 {version}", "{path}: already at schema {version}"),
    # stations and tokens
    "station-added": ("站点 {station}（{enterprise}）已登记；令牌如下（只显示这一次）：",
                      "station {station} ({enterprise}) registered; its token (shown once):"),
    "station-exists": ("站点 {station!r} 已登记过", "station {station!r} is already registered"),
    "station-unknown": ("没有站点 {station!r}", "no station {station!r}"),
    "station-rotated": ("站点 {station}：新令牌如下（只显示这一次；旧令牌从此失效）：",
                        "station {station}: new token (shown once; the old one no longer "
                        "works):"),
    "station-disabled": ("站点 {station} 已停用：其令牌被拒绝（401）；其记录保留",
                         "station {station} disabled: its token is refused (401); its "
                         "records are kept"),
    "station-enabled": ("站点 {station} 已启用", "station {station} enabled"),
    "station-id-rule": ("须为 1–64 个字符（A-Z a-z 0-9 . _ -）", "{rule}"),
    "admin-token-new": ("管理令牌 {id}（{note}）；令牌如下（只显示这一次）：",
                        "admin token {id} ({note}); the token (shown once):"),
    "admin-token-unknown": ("没有管理令牌 {id}", "no admin token {id}"),
    "admin-token-revoked": ("管理令牌 {id} 已撤销；其看板会话已结束",
                            "admin token {id} revoked; its dashboard sessions are ended"),
    "write-off-done": ("站点 {station} 纪元 {epoch}：序号 {first}..{through} 记为丢失；"
                       "acked_through 现为 {acked}",
                       "station {station} epoch {epoch}: seqs {first}..{through} written off "
                       "as lost; acked_through is now {acked}"),
    "write-off-nothing": ("站点 {station} 纪元 {epoch}：acked_through 已是 {acked}；无需记为丢失",
                          "station {station} epoch {epoch}: acked_through is already {acked}; "
                          "nothing to write off"),
    "epoch-unknown": ("站点 {station} 没有纪元 {epoch}", "station {station} has no epoch {epoch}"),
    "purged": ("已删除 {day} 之前的 {count} 条记录", "purged {count} records from before {day}"),
    # lists (stations list, admin-token list): one row per line, tab-separated
    "list-enabled": ("启用", "enabled"),
    "list-disabled": ("停用", "disabled"),
    "list-never": ("从未上线", "never"),
    "list-backlog": ("积压={backlog}", "backlog={backlog}"),
    "list-faults": ("故障={faults}", "faults={faults}"),
    "list-acked": ("已确认={acked}", "acked={acked}"),
    "list-active": ("有效", "active"),
    "list-revoked": ("已撤销 {when}", "revoked {when}"),
    # trust, revocations, rules
    "trusted": ("已信任密钥 {kid_hex}（kid {kid}，签发机构 {issuer}）",
                "trusted key {kid_hex} (kid {kid}, issuer {issuer})"),
    "trust-exists": ("密钥 {kid_hex} 已在信任列表中", "key {kid_hex} is already in the trust list"),
    "trust-removed": ("已从信任列表移除密钥 {kid_hex}",
                      "removed key {kid_hex} from the trust list"),
    "trust-unknown": ("信任列表中没有密钥 {kid}", "no key {kid} in the trust list"),
    "trust-kid-mismatch": ("{source}：kid 与密钥的 spki 不符", "{source}: kid does not match the "
                           "key's spki"),
    "revoked": ("已撤销 {subject} 在 {when} 之前签发的码",
                "revoked codes of {subject} issued before {when}"),
    "rule-set": ("规则 {key} = {value}", "rule {key} = {value}"),
    "rule-removed": ("规则 {key} 已移除", "rule {key} removed"),
    "rule-unknown": ("没有设置规则 {key!r}（当前规则：{known}）",
                     "no rule {key!r} is set (rules set now: {known})"),
    "rule-not-yaml": ("{value} 不是 YAML 值", "{value} is not a YAML value"),
    "subject-length": ("人员编号为 1–32 个字符", "a subject is 1–32 characters"),
    "after-1970": ("须晚于 1970-01-01", "must be after 1970-01-01"),
    "lifetime-range": ("须在 1h 至 30d 之间", "must be from 1h to 30d"),
    "ttl-positive": ("--ttl 须为正数", "--ttl must be positive"),
    "returned-form": ("{value}：格式为 日期:类别，例如 2021-01-30:outside-municipality",
                      "{value}: use DATE:ORIGIN, e.g. 2021-01-30:outside-municipality"),
    "claims-refused": ("这些内容无法通过核验：[{detail}]",
                       "these claims would not verify: {detail}"),
    "keys-or-clear": ("给公钥文件，或给 --clear", "give the public key files, or --clear"),
    "wrote": ("已写入 {path}", "wrote {path}"),
    "not-json": ("{path}：不是有效的 JSON：[{error}]", "{path}: not valid JSON: {error}"),
    # bundles
    "bundle-key-made": ("数据包密钥 {kid_hex}（kid {kid}）：私钥 {private}"
                        "（权限 0600，请妥善保管），公钥 {public}",
                        "bundle key {kid_hex} (kid {kid}): private key {private} (mode 0600; "
                        "keep it safe), public key {public}"),
    "bundle-signed": ("已用密钥 {kid_hex} 签署数据包 serial {serial}，有效至 {expires}",
                      "signed bundle serial {serial} with key {kid_hex}, expires {expires}"),
    "bundle-imported": ("已导入由 {kid_hex} 签署的数据包 serial {serial}；站点现在即可获取",
                        "imported bundle serial {serial} signed by {kid_hex}; stations get it "
                        "now"),
    "bundle-same": ("数据包 serial {serial} 已导入过", "bundle serial {serial} is already "
                    "imported"),
    "bundle-none": ("还没有签署的数据包：运行 `serve --bundle-key FILE`，或 `bundle export`/"
                    "`sign`/`import`",
                    "no signed bundle yet: run `serve --bundle-key FILE` or `bundle export`/"
                    "`sign`/`import`"),
    "bundle-stale": ("正在下发的数据包（serial {serial}）早于信任密钥、撤销或规则的改动："
                     "请签署新的数据包",
                     "the served bundle (serial {serial}) predates changes to trust keys, "
                     "revocations or rules: sign a new one"),
    "bundle-exported": ("已导出未签名数据包 serial {serial}；请用 `town-server bundle sign FILE "
                        "--key KEY` 签署",
                        "exported unsigned bundle serial {serial}; sign it with `town-server "
                        "bundle sign FILE --key KEY`"),
    "bundle-keys-set": ("今后的数据包携带 bundle_keys：{kids}", "bundles now carry bundle_keys: "
                        "{kids}"),
    "bundle-keys-cleared": ("今后的数据包不再携带 bundle_keys", "bundles no longer carry "
                            "bundle_keys"),
    "bundle-not-exported": ("serial {serial} 不是本数据库导出的（`town-server bundle export`）："
                            "拒绝不是它分配的 serial",
                            "serial {serial} was not exported from this database "
                            "(`town-server bundle export`): refusing a serial it did not "
                            "allocate"),
    "bundle-other-payload": ("serial {serial} 已用另一份内容导入过",
                             "serial {serial} is already imported with another payload"),
    "bundle-older": ("serial {serial} 早于正在下发的数据包（{latest}）",
                     "serial {serial} is older than the served bundle ({latest})"),
    # the bundle document and envelope, bundle keys (sync/town/signing.py)
    "sign-not-base64-text": ("{where}：须为 base64 文本", "{where}: must be base64 text"),
    "sign-not-base64": ("{where}：不是 RFC 4648 base64（标准字母表，= 填充）",
                        "{where}: not RFC 4648 base64 (standard alphabet, = padding)"),
    "sign-kid-form": ("{value}：密钥编号（kid）为 16 位十六进制，或 8 字节的 base64",
                      "{value}: a key id is 16 hex digits or base64 of 8 bytes"),
    "sign-cannot-read-key": ("{path}：无法读取数据包密钥：{error}",
                             "{path}: cannot read the bundle key: {error}"),
    "sign-not-private-pem": ("{path}：不是未加密的 PEM 私钥",
                             "{path}: not an unencrypted PEM private key"),
    "sign-not-ed25519-new": ("{path}：数据包密钥须为 Ed25519 密钥（`town-server keys new "
                             "--purpose bundle`）",
                             "{path}: a bundle key is an Ed25519 key (`town-server keys new "
                             "--purpose bundle`)"),
    "sign-cannot-read": ("{path}：无法读取：{error}", "{path}: cannot read: {error}"),
    "sign-not-public-pem": ("{path}：不是 PEM 公钥", "{path}: not a PEM public key"),
    "sign-not-ed25519": ("{path}：数据包密钥须为 Ed25519 密钥", "{path}: a bundle key is an "
                         "Ed25519 key"),
    "sign-time": ("{source}: {name}：须为带时区偏移的 ISO 8601 时间",
                  "{source}: {name}: must be an ISO 8601 time with UTC offset"),
    "sign-not-object": ("{source}：数据包文档须为 JSON 对象",
                        "{source}: the bundle document must be a JSON object"),
    "sign-missing": ("{source}: {name}：缺少", "{source}: {name}: missing"),
    "sign-serial": ("{source}: serial：须为 1 至 2^53-1 的整数",
                    "{source}: serial: must be a whole number from 1 to 2^53-1"),
    "sign-version": ("{source}: version：须为文本", "{source}: version: must be text"),
    "sign-expires": ("{source}: expires：须晚于 issued_at，且不超过其后 30 天",
                     "{source}: expires: must be after issued_at and at most 30 days after it"),
    "sign-field-object": ("{source}: {name}：须为对象", "{source}: {name}: must be an object"),
    "sign-bundle-keys": ("{source}: bundle_keys：须为非空的 base64 SPKI 列表",
                         "{source}: bundle_keys: must be a non-empty list of base64 SPKI"),
    "sign-envelope": ("{source}：签名数据包只含 payload、alg、kid 和 signature",
                      "{source}: a signed bundle has exactly payload, alg, kid and signature"),
    "sign-alg": ("{source}: alg：须为 EdDSA", "{source}: alg: must be EdDSA"),
    "sign-kid": ("{source}: kid：由密钥 {kid_hex} 签署，不是 {expected}",
                 "{source}: kid: signed by key {kid_hex}, not by {expected}"),
    "sign-signature": ("{source}: signature：验证不通过", "{source}: signature: does not verify"),
    "sign-payload": ("{source}: payload：不是 UTF-8 JSON", "{source}: payload: not UTF-8 JSON"),
    # keys
    "key-private": ("私钥：{path}（权限 0600；请离线保管）", "private key: {path} (mode 0600; "
                    "keep it offline)"),
    "key-public": ("公钥：{path}", "public key:  {path}"),
    # the command line's own errors
    "cannot-use-path": ("{path}：{error}", "{path}: {error}"),
}

HTML: dict[str, tuple[str, str]] = {
    "title": ("红炉镇 入厂检测", "Honglu town: gate checks"),
    "login-title": ("登录", "Log in"),
    "login-label": ("管理令牌", "Admin token"),
    "login-button": ("登录", "Log in"),
    "login-bad": ("管理令牌无效", "Unknown or revoked admin token."),
    "login-expired": ("表单已过期，请重试", "The form expired; try again."),
    "logout": ("退出", "Log out"),
    "api-docs": ("接口文档", "API docs"),
    "office": ("防疫办工作台", "Town office console"),
    "switch": ("English", "中文"),  # the other language, in its own words
    "stations": ("站点", "Stations"),
    "station": ("站点", "station"),
    "enterprise": ("企业", "enterprise"),
    "last-heartbeat": ("最近心跳", "last heartbeat"),
    "status": ("状态", "status"),
    "backlog": ("积压", "backlog"),
    "faults": ("故障", "faults"),
    "acked": ("已确认", "acked through"),
    "never": ("从未上线", "never heard from"),
    "silent": ("已失联 {minutes} 分钟", "silent for {minutes} min"),
    "online": ("在线", "online"),
    "disabled": ("已停用", "disabled"),
    "today": ("今日（{day}）", "Today ({day})"),
    "entries": ("入厂", "entries"),
    "admitted": ("准入", "admitted"),
    "denied": ("拒绝", "denied"),
    "vehicles": ("车辆", "vehicles"),
    "visitors": ("访客", "visitors"),
    "alarms": ("发热告警（未处理在前）", "Fever alarms (unhandled first)"),
    "time": ("时间", "time"),
    "subject": ("人员", "subject"),
    "name": ("姓名", "name"),
    "handled": ("处理", "handled"),
    "unhandled": ("未处理", "unhandled"),
    "bundle": ("下发包", "Bundle"),
    "bundle-serial": ("序号 {serial}，有效至 {expires}，签名密钥 {kid_hex}",
                      "serial {serial}, expires {expires}, key {kid_hex}"),
    "bundle-none": ("尚未签发", "none signed yet"),
    "bundle-stale": ("内容已变更，待重新签发", "changed since it was signed: sign a new one"),
    "simulated": ("模拟", "simulated"),
    "updated": ("更新于", "updated"),
}


class TownText(Localized):
    """A sentence of the town's command-line catalogue (`CLI`): `str()` is English (the API's
    error details and the journal stay English and stable), `in_locale` the sentence for the
    administrator's locale. A Localized, so the station's error tree renders it too."""

    def __new__(cls, key: str, /, **fields: object) -> TownText:
        made = str.__new__(cls, _render(key, "en", fields))
        made.key = key
        made.fields = fields
        return made

    def in_locale(self, locale: Locale) -> str:
        return _render(self.key, locale, self.fields)


def _render(key: str, locale: Locale, fields: dict[str, object]) -> str:
    zh, en = CLI[key]
    shown = {name: localize(value, locale) if isinstance(value, Localized | OSError) else value
             for name, value in fields.items()}
    return (zh if locale == "zh_CN" else en).format(**shown)


def cli(message: str, /, **fields: Any) -> TownText:
    """A command-line sentence with its fields filled in (English as str; `in_locale`)."""
    return TownText(message, **fields)


def html(label: str, /, locale: Locale = "zh_CN", **fields: Any) -> str:
    """A dashboard label in `locale` (not yet HTML-escaped: the caller escapes)."""
    zh, en = HTML[label]
    return (zh if locale == "zh_CN" else en).format(**fields)
