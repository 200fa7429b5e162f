"""Classify a delivery failure (status code and diagnostic text) into a Sisimai-like reason, hard or soft."""

from __future__ import annotations

import re

# Only these mean "the address itself is bad"; policy, reputation and content blocks are about us or the message.
HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept"})

# Codes precise enough that the text cannot change their meaning (RFC 3463, 3886, 7372, 7505).
_DEFINITIVE: dict[str, str] = {
    "1.1": "userunknown",
    "1.2": "hostunknown",
    "1.3": "syntaxerror",
    "1.6": "hasmoved",
    "1.10": "notaccept",
    "2.2": "mailboxfull",
    "2.3": "mesgtoobig",
    "3.1": "systemfull",
    "3.4": "mesgtoobig",
    "4.1": "networkerror",
    "4.3": "networkerror",
    "4.4": "hostunknown",
    "4.6": "networkerror",
    "4.7": "expired",
    "5.3": "toomanyconn",
    "6.0": "contenterror",
    "7.7": "contenterror",
    "7.13": "suspend",
    "7.20": "authfailure",
    "7.21": "authfailure",
    "7.22": "authfailure",
    "7.23": "authfailure",
    "7.24": "authfailure",
    "7.25": "requireptr",
    "7.26": "authfailure",
    "7.27": "notaccept",
}

# Codes whose meaning depends on the text; used only when no text rule matched.
_GENERIC: dict[str, str] = {
    "1.0": "userunknown",
    "1.4": "userunknown",
    "1.5": "userunknown",
    "1.7": "rejected",
    "1.8": "rejected",
    "2.0": "userunknown",
    "2.1": "suspend",
    "2.4": "systemerror",
    "3.0": "systemerror",
    "3.2": "systemerror",
    "3.3": "systemerror",
    "3.5": "systemerror",
    "4.0": "networkerror",
    "4.2": "networkerror",
    "4.5": "systemerror",
    "5.0": "systemerror",
    "5.1": "syntaxerror",
    "5.2": "syntaxerror",
    "5.4": "syntaxerror",
    "5.5": "syntaxerror",
    "6.1": "contenterror",
    "6.2": "contenterror",
    "6.3": "contenterror",
    "6.4": "contenterror",
    "6.5": "contenterror",
    "7.0": "rejected",
    "7.1": "rejected",
    "7.2": "rejected",
    "7.3": "securityerror",
    "7.4": "securityerror",
    "7.5": "securityerror",
    "7.6": "securityerror",
    "7.8": "authfailure",
    "7.9": "securityerror",
    "7.10": "securityerror",
    "7.11": "securityerror",
    "7.12": "securityerror",
    "7.14": "securityerror",
    "7.15": "securityerror",
    "7.16": "exceedlimit",
    "7.17": "suspend",
    "7.18": "suspend",
    "7.19": "suspend",
}

# Ordered: the first match wins, so specific phrasings come before broad ones. Gaps are bounded (.{0,80}):
# the words belong to one sentence, and unbounded ones made this table the parser's hot spot.
_TEXT_RULES: list[tuple[str, str]] = [
    ("virusdetected", r"virus|malware|infected|trojan|worm detected"),
    ("badreputation", r"reputation|sender score|\bip (?:address )?(?:is )?(?:listed|blacklisted)|low reputation|poor reputation"),
    ("spamdetected", r"\bspam\b|spamhaus.{0,80}content|junk mail|bulk mail|unsolicited|message (?:was )?(?:classified|identified|detected|considered) as spam|content (?:was )?(?:rejected|blocked) as spam|spam score|high probability of spam|appears to be spam|spamassassin|looks like spam"),
    ("requireptr", r"reverse (?:dns|dns lookup|lookup|hostname)|no ptr|ptr record|cannot find your hostname|client host .{0,80} (?:has no|without) (?:a )?ptr|rdns|does not resolve to (?:your )?(?:ip|address)"),
    ("authfailure", r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|authentication (?:failed|required|results)|not authorized to send"),
    ("blocked", r"block ?list|black ?list|\bblocked\b.{0,80}\b(?:ip|host|client|connection)|\b(?:ip|host|client|connection)\b.{0,80}\bblocked\b|\brbl\b|\bdnsbl\b|spamcop|spamhaus|sorbs|barracuda|listed (?:at|on|in)|access denied.{0,80}\b(?:ip|client)|connection refused|refused to talk|not allowed to connect|your (?:ip|network|server) .{0,80}(?:banned|denied|rejected)"),
    ("toomanyconn", r"too many (?:connections|concurrent|sessions|simultaneous)|connection (?:limit|rate limit) exceeded|max(?:imum)? (?:number of )?connections"),
    ("ratelimited", r"rate limit|rate-limit|ratelimit|too many (?:messages|emails|mails|recipients per)|sending (?:rate|limit)|throttl|try (?:again )?later.{0,80}(?:rate|limit)|exceeded .{0,80}(?:quota|limit) .{0,80}(?:per|hour|day)|deferred due to .{0,80}rate"),
    ("speeding", r"too (?:fast|quickly)|speeding|slow down"),
    ("norelaying", r"relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed)|prohibited)|not permitted to relay|unable to relay|not (?:a )?(?:gateway|local)|we do not relay|relay not|no relaying|not allowed to relay|domain isn.t in my list of allowed rcpthosts|rcpthosts"),
    ("mesgtoobig", r"message (?:is )?too (?:big|large)|message size|size (?:limit|exceeds)|exceeds? (?:the )?(?:maximum|max) (?:message )?size|message length exceeds|mail size|too large"),
    ("mailboxfull", r"mailbox (?:is )?full|over ?quota|quota (?:exceeded|full)|exceeded (?:storage|(?:the )?quota)|disk quota|mailbox size limit|insufficient (?:disk )?(?:space|storage)|user(?:'s)? (?:mailbox|disk) (?:is )?(?:full|over)|mail ?box (?:has )?exceeded|not enough (?:storage|space)|full mailbox|account is full|recipient.{0,80}(?:is )?full|boite (?:pleine|est pleine)|postfach (?:ist )?voll"),
    ("exceedlimit", r"exceed(?:ed|s)? (?:the )?(?:maximum|limit)|limit exceeded|too many recipients"),
    ("suspend", r"(?:account|mailbox|user|address) (?:has been |is |was )?(?:disabled|suspended|deactivated|inactive|expired|locked|frozen|blocked)|(?:disabled|suspended|inactive|deactivated) (?:account|mailbox|user)|mailbox (?:is )?(?:temporarily )?unavailable.{0,80}(?:disabled|suspend)|not active|no longer active"),
    ("hasmoved", r"has moved|moved to|is no longer (?:at|with)|user has moved|address changed|forwarding address"),
    ("hostunknown", r"host (?:or domain name )?(?:not found|unknown)|unknown host|domain (?:not found|does not exist|is not configured|name not found|unknown)|no such (?:host|domain)|unrouteable (?:mail )?domain|unroutable|name or service not known|host not found|nxdomain|no mx|mx (?:record )?(?:not found|lookup failed)|non-existent (?:host|domain)|does not accept mail|dns (?:error|lookup failed)|unknown domain|invalid domain|domain.{0,80}no longer|all relevant mx records point to non-existent hosts|unresolvable"),
    ("userunknown", r"user(?:name)? (?:is )?unknown|unknown (?:user|recipient|mailbox|local|address|alias|account)|no such (?:user|mailbox|recipient|address|account|person|local user)|(?:user|recipient|mailbox|address|account|addressee)(?: address)? (?:does not|doesn.t|did not) exist|(?:user|recipient|mailbox|address|account) (?:not found|not known|not listed|unavailable|invalid)|(?:invalid|bad|unknown|nonexistent|non-existent) (?:recipient|user|mailbox|address|destination|account)|not (?:a )?(?:valid|known) (?:recipient|user|mailbox|address)|mailbox (?:not found|unavailable|does not exist|is disabled)|address rejected|recipient rejected|user not found|no mailbox|not our customer|is not a known user|unknown or illegal alias|invalid address|recipient not found|no such|account.{0,80}(?:does not exist|not exist)|unrouteable address|doesn.t have a .{0,80} account|addressee unknown|could not be delivered.{0,80}(?:does not exist|unknown)|not listed in|unknown address|destination address rejected|user doesn't have|mailbox does not|no valid recipients|dosn't exist|was not found|does not exist|undeliverable address|i'm not going to try again|doesn't have an? \S+ account"),
    ("filtered", r"filter|rejected by (?:the )?recipient|recipient (?:has )?(?:refused|blocked|rejected)|not accepting (?:mail|messages) from|sender (?:address )?(?:is )?(?:blocked|rejected|denied)|delivery not authorized|this user doesn.t accept|message rejected by"),
    ("policyviolation", r"policy|prohibited|not allowed|violat|dmarc policy|content (?:rejected|not allowed)|banned|forbidden"),
    ("contenterror", r"content|attachment|header (?:syntax|error)|mime|illegal character|invalid (?:header|character|message)|8bit"),
    ("notcompliantrfc", r"rfc ?(?:822|2822|5322|5321)|not (?:rfc )?compliant|duplicate header|multiple .{0,80}headers|malformed"),
    ("syntaxerror", r"syntax error|command (?:not )?(?:recognized|unrecognized)|bad sequence|invalid command|parameter not implemented|unrecognized command"),
    ("securityerror", r"tls|starttls|encryption|certificate|ssl|secure connection|security"),
    ("expired", r"expired|(?:have been|has been|were) failing for a long time|retry time not reached|too long|gave up|give up|timed? ?out|time(?:d)? out|retry timeout|could not be delivered (?:for|within|after)|has been (?:delayed|queued) for|not (?:been )?delivered for|delivery time|maximum time|undeliverable for|retry time|tried for|days? without|could not deliver .{0,80} for"),
    ("networkerror", r"network|connection (?:reset|closed|lost|timed|dropped)|lost connection|no route to host|unreachable|dns|unable to connect|connect to .{0,80} failed|could not connect|connection attempt failed|host .{0,80} not responding|broken pipe"),
    ("systemfull", r"system (?:is )?full|out of (?:disk|space|memory)|insufficient system|disk full|no space left"),
    ("toomanyconn", r"too many"),
    ("systemerror", r"system error|internal error|server error|configuration error|local error|mail loop|loops? (?:back|detected)|too many hops|hop count|routing loop|temporary (?:failure|error|problem)|try again later|service (?:not available|unavailable)|local configuration|misconfig|mailer error|transaction failed|i/o error|queue file|resources temporarily|cannot (?:process|handle)|server busy"),
    ("notaccept", r"does not accept mail|null mx|accepts no mail|not accept(?:ing)? (?:any )?mail|no mail service"),
    ("onhold", r"on hold|held for review|quarantin"),
    ("rejected", r"permission to post|not (?:a )?member|reject|refused|denied|not accepted|not permitted|unacceptable|sender (?:address )?(?:verify|verification) failed"),
]

# Matched against lower-cased text without re.I: case-insensitive matching made each search several times slower.
_COMPILED = [(reason, re.compile(pattern)) for reason, pattern in _TEXT_RULES]
_AFTER_DATA = re.compile(r"after (?:end of )?data|>>> data\b|in reply to (?:end of )?data|after the message was sent", re.I)
_STATUS = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})$")

# What a message that names a reason but no code most likely meant; used to fill a missing status.
DEFAULT_STATUS: dict[str, str] = {
    "userunknown": "5.1.1",
    "hostunknown": "5.1.2",
    "hasmoved": "5.1.6",
    "notaccept": "5.1.10",
    "mailboxfull": "5.2.2",
    "mesgtoobig": "5.3.4",
    "exceedlimit": "5.2.3",
    "expired": "4.4.7",
    "networkerror": "4.4.1",
    "systemfull": "4.3.1",
    "suspend": "5.2.1",
    "norelaying": "5.7.1",
    "filtered": "5.2.0",
    "blocked": "5.7.1",
    "spamdetected": "5.7.1",
    "virusdetected": "5.7.1",
    "securityerror": "5.7.0",
    "policyviolation": "5.7.0",
    "rejected": "5.7.1",
    "contenterror": "5.6.0",
    "systemerror": "5.3.0",
    "authfailure": "5.7.26",
    "requireptr": "5.7.25",
    "toomanyconn": "4.7.0",
    "ratelimited": "4.7.0",
    "syntaxerror": "5.5.2",
}


def classify(status: str | None, text: str | None) -> tuple[str, bool]:
    """(reason, hard) from an enhanced status code like "5.1.1" and/or the diagnostic text; never raises."""
    code = _STATUS.match(status.strip()) if status else None
    klass, detail = (code.group(1), f"{int(code.group(2))}.{int(code.group(3))}") if code else (None, None)
    reason: str | None = None
    if detail and detail in _DEFINITIVE:
        reason = _DEFINITIVE[detail]
    if reason is None and text:
        reason = text_reason(text)
    if reason is None and detail:
        reason = _GENERIC.get(detail)
        if reason is None and detail.startswith("7."):
            reason = "securityerror"
    if reason is None:
        reason = "undefined"
    if reason == "userunknown" and text and _AFTER_DATA.search(text):
        # An address refused only after the message was sent is a content or per-user filter (Sisimai's "filtered").
        reason = "filtered"
    hard = reason in HARD_REASONS and klass != "4"
    return reason, hard


def text_reason(text: str) -> str | None:
    sample = " ".join(text[:4000].lower().split())
    for reason, pattern in _COMPILED:
        if pattern.search(sample):
            return reason
    return None
