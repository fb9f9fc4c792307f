"""Every sentence the town server shows a person, in one place.

The town's staff read Chinese first: dashboard labels are "中文 English" pairs. The
`town-server` command line speaks to the town's administrator in English one-liners (it is
an operator's tool, like the station's own logs). API error details are English and stable
(stations and scripts read them).
"""

from __future__ import annotations

from typing import Any

CLI: dict[str, str] = {
    # the database file
    "db-missing": "{path}: no town database here; create one with `town-server db init --db "
                  "{path}`",
    "db-no-dir": "{path}: the directory {parent} does not exist",
    "db-exists": "{path}: already exists; `db init` makes a new database only",
    "db-not-town": "{path}: not a town database",
    "db-old": "{path}: schema version {version}, this town-server needs {wanted}: run "
              "`town-server db upgrade --db {path}`",
    "db-new": "{path}: schema version {version} is newer than this town-server's "
              "({wanted}): upgrade town-server",
    "db-unusable": "{path}: cannot use the town database: {error}",
    "db-created": "created town database {path} (schema {version}, mode 0600)",
    "db-created-pg": "created town database {path} (schema {version})",
    "db-migrated": "{path}: migrated schema {old} → {new}",
    "db-current": "{path}: already at schema {version}",
    # stations and tokens
    "station-added": "station {station} ({enterprise}) registered; its token (shown once):",
    "station-exists": "station {station!r} is already registered",
    "station-unknown": "no station {station!r}",
    "station-rotated": "station {station}: new token (shown once; the old one no longer "
                       "works):",
    "station-disabled": "station {station} disabled: its token is refused (401); its "
                        "records are kept",
    "station-enabled": "station {station} enabled",
    "admin-token-new": "admin token {id} ({note}); the token (shown once):",
    "admin-token-unknown": "no admin token {id}",
    "admin-token-revoked": "admin token {id} revoked; its dashboard sessions are ended",
    "write-off-done": "station {station} epoch {epoch}: seqs {first}..{through} written off "
                      "as lost; acked_through is now {acked}",
    "write-off-nothing": "station {station} epoch {epoch}: acked_through is already {acked}; "
                         "nothing to write off",
    "epoch-unknown": "station {station} has no epoch {epoch}",
    "purged": "purged {count} records from before {day}",
    # trust, revocations, rules
    "trusted": "trusted key {kid_hex} (kid {kid}, issuer {issuer})",
    "trust-exists": "key {kid_hex} is already in the trust list",
    "trust-removed": "removed key {kid_hex} from the trust list",
    "trust-unknown": "no key {kid} in the trust list",
    "trust-kid-mismatch": "{source}: kid does not match the key's spki",
    "revoked": "revoked codes of {subject} issued before {when}",
    "rule-set": "rule {key} = {value}",
    "rule-removed": "rule {key} removed",
    "rule-unknown": "no rule {key!r} is set (rules set now: {known})",
    # bundles
    "bundle-key-made": "bundle key {kid_hex} (kid {kid}): private key {private} (mode 0600; "
                       "keep it safe), public key {public}",
    "bundle-signed": "signed bundle serial {serial} with key {kid_hex}, expires {expires}",
    "bundle-imported": "imported bundle serial {serial} signed by {kid_hex}; stations get it "
                       "now",
    "bundle-same": "bundle serial {serial} is already imported",
    "bundle-none": "no signed bundle yet: run `serve --bundle-key FILE` or `bundle export`/"
                   "`sign`/`import`",
    "bundle-stale": "the served bundle (serial {serial}) predates changes to trust keys, "
                    "revocations or rules: sign a new one",
    "bundle-exported": "exported unsigned bundle serial {serial}; sign it with `town-server "
                       "bundle sign FILE --key KEY`",
    "bundle-keys-set": "bundles now carry bundle_keys: {kids}",
    "bundle-keys-cleared": "bundles no longer carry bundle_keys",
    # keys
    "key-private": "private key: {path} (mode 0600; keep it offline)",
    "key-public": "public key:  {path}",
}

HTML: dict[str, str] = {
    "title": "红炉镇 入厂检测 · town dashboard",
    "login-title": "登录 Login",
    "login-label": "管理令牌 Admin token",
    "login-button": "登录 Log in",
    "login-bad": "管理令牌无效 Unknown or revoked admin token.",
    "login-expired": "表单已过期，请重试 The form expired; try again.",
    "logout": "退出 Log out",
    "api-docs": "接口文档 API docs",
    "stations": "站点 Stations",
    "station": "站点 station",
    "enterprise": "企业 enterprise",
    "last-heartbeat": "最近心跳 last heartbeat",
    "status": "状态 status",
    "backlog": "积压 backlog",
    "faults": "故障 faults",
    "acked": "已确认 acked through",
    "never": "从未上线 never heard from",
    "silent": "已失联 {minutes} 分钟 silent for {minutes} min",
    "online": "在线 online",
    "disabled": "已停用 disabled",
    "today": "今日 Today ({day})",
    "entries": "入厂 entries",
    "admitted": "准入 admitted",
    "denied": "拒绝 denied",
    "vehicles": "车辆 vehicles",
    "visitors": "访客 visitors",
    "alarms": "发热告警（未处理在前） Fever alarms (unhandled first)",
    "time": "时间 time",
    "subject": "人员 subject",
    "name": "姓名 name",
    "handled": "处理 handled",
    "unhandled": "未处理 unhandled",
    "bundle": "下发包 Bundle",
    "bundle-serial": "序号 serial {serial}, 有效至 expires {expires}, 签名密钥 key {kid_hex}",
    "bundle-none": "尚未签发 none signed yet",
    "bundle-stale": "内容已变更，待重新签发 changed since it was signed: sign a new one",
    "simulated": "模拟 simulated",
    "updated": "更新于 updated",
}


def cli(message: str, /, **fields: Any) -> str:
    """A command-line sentence with its fields filled in."""
    return CLI[message].format(**fields)


def html(label: str, /, **fields: Any) -> str:
    """A dashboard label (not yet HTML-escaped: the caller escapes)."""
    return HTML[label].format(**fields)
