"""How a failure's status code, SMTP command and text decide its reason (a row of ``core.reasons``), hard or soft.

How a reason is decided (the order mirrors how Sisimai decides, written from its documented behaviour):

0. A provider's own documented refusal code quoted in the reply (Orange and La Poste's ``OFR_416``,
   ``LPN007_506``: ``_FRANCE_PTT``) names the check that failed and decides before the generic enhanced code
   they send with it.
1. The enhanced status code, when it is specific (``_CODE_REASON``): 5.1.1 userunknown, 5.1.2 hostunknown,
   5.2.2 mailboxfull, 5.2.3 exceedlimit, 4.4.7 expired, ... A few code reasons yield to text that clearly
   names something else (a 5.1.1 whose text says "relaying denied" or "IP blacklisted" is not about the
   address; a 5.1.2 whose text is a DNS timeout is a network error).
2. Otherwise the text, by the ordered patterns of ``_TEXT_RULES`` (specific phrasings before broad ones),
   adjusted by the SMTP command the reply answered (``smtp_command``):

   * "user unknown" refused at MAIL FROM is about our sender address: ``rejected``;
   * "user unknown" answered after DATA (and without a 5.1.x code) is a per-recipient content filter
     (Sisimai's ``filtered``), not proof the address is bad; so is one under a 5.7.x (policy) code that is
     not said to answer RCPT TO, and one whose address slot is empty ("550 : User unknown");
   * a refusal at the greeting or at HELO/EHLO is about our host: ``blocked``, whatever the why (no PTR,
     a relay quota, a reputation) the text gives;
   * a "domain not found" with a temporary (4.x.x) code is a DNS failure: ``networkerror``;
   * content errors under a 5.7.x code are policy decisions: ``policyviolation``.
3. Otherwise the code's class (``_GENERIC``; 5.6.x contenterror, 5.7.x securityerror).
4. Otherwise ``undefined`` (``onhold`` only when the text itself says the message is held).
   The report readers then make two decisions that need more than a code and a text: a DSN recipient that
   failed with a temporary code and nothing more precise ran out its retry window (``expired``), and a
   recipient of a report with a diagnostic but no decidable reason is ``onhold`` (Sisimai's convention:
   there is an address and a text, so a human may decide). The delivery engine, which calls reason_for() on
   our own SMTP replies, keeps ``undefined`` for those.

Reasons that are not failures (``delivered``, ``feedback`` for ARF, ``vacation`` for auto-replies) are set by
their own readers and never come from here. ``mailererror`` (a local delivery program failed, e.g. a
``X-Unix;`` diagnostic) is a failure reason Sisimai has beyond the issue's list; it is kept, soft.

Hard means "the address itself is bad, stop sending to it": ``core.reasons.HARD_REASONS``, and only for a
permanent (5.x.x or no) code. Everything about us, our host or our message (blocked, badreputation,
policyviolation, spamdetected, ratelimited, ...) or about a temporary state (mailboxfull, suspend) is soft.
"""

from __future__ import annotations

import re

from maild.core import recache
from maild.core.lazyre import LazyPattern, lazy
from maild.core.prefilter import Leftmost, LiteralScan, literals_of, worded_branches
from maild.core.reasons import REASON_TABLE, Reason, is_hard
from maild.core.syntax import STATUS_CODE

# Codes precise enough to decide the reason (RFC 3463, 3886, 7372, 7505); see _YIELDS for the exceptions.
_CODE_REASON_NAMES: dict[str, str] = {
    "1.1": "userunknown",
    "1.2": "hostunknown",
    "1.3": "userunknown",
    "1.6": "hasmoved",
    "1.7": "rejected",
    "1.8": "rejected",
    "1.10": "notaccept",
    "2.2": "mailboxfull",
    "2.3": "exceedlimit",
    "3.1": "systemfull",
    "3.2": "notaccept",
    "3.4": "mesgtoobig",
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
    "7.27": "rejected",
}

# A code reason gives way when the text names one of these instead (the text is more precise than the code).
_YIELD_NAMES: dict[str, frozenset[str]] = {
    # A 5.1.1 whose text names a block on us or our message (policy, reputation, authentication) is not a bad address.
    "userunknown": frozenset({
        "norelaying", "blocked", "mailboxfull", "hasmoved", "speeding", "ratelimited", "badreputation", "spamdetected",
        "mailererror", "authfailure", "virusdetected", "requireptr",
    }),
    "hostunknown": frozenset({"networkerror", "notaccept"}),
    # X.3.2 "system not accepting network messages" is often a connection or rate limit, said in the text.
    "notaccept": frozenset({"userunknown", "toomanyconn", "ratelimited"}),
    "expired": frozenset({"networkerror", "blocked", "hostunknown", "toomanyconn"}),
    "rejected": frozenset({"blocked", "notaccept"}),
    "toomanyconn": frozenset({"speeding", "ratelimited"}),
}

# Codes whose meaning depends on the text; used only when no text rule matched.
_GENERIC_NAMES: dict[str, str] = {
    "1.0": "userunknown",
    "1.4": "filtered",
    "1.5": "userunknown",
    "1.9": "systemerror",
    "2.0": "filtered",
    "2.1": "filtered",
    "2.4": "filtered",
    "3.0": "systemerror",
    "3.3": "systemerror",
    "3.5": "systemerror",
    "4.0": "networkerror",
    "4.1": "networkerror",
    "4.2": "networkerror",
    "4.3": "systemerror",
    "4.5": "systemfull",
    "5.0": "syntaxerror",
    "5.1": "syntaxerror",
    "5.2": "syntaxerror",
    "5.4": "systemerror",
    "5.5": "systemerror",
    "5.6": "securityerror",
    "6.1": "contenterror",
    "6.2": "contenterror",
    "6.3": "contenterror",
    "6.4": "contenterror",
    "6.5": "contenterror",
    "7.16": "mesgtoobig",
    "7.17": "hasmoved",
    "7.18": "hasmoved",
}

_CODE_REASON = {code: Reason(name) for code, name in _CODE_REASON_NAMES.items()}
_YIELDS = {Reason(name): frozenset(Reason(n) for n in names) for name, names in _YIELD_NAMES.items()}
_GENERIC = {code: Reason(name) for code, name in _GENERIC_NAMES.items()}

# Ordered: the first match wins, so specific phrasings come before broad ones. Gaps are bounded (.{0,80}):
# the words belong to one sentence, and unbounded ones made this table the parser's hot spot.
_TEXT_RULES: list[tuple[str, str]] = [
    # Mimecast's published refusal messages ("Mimecast SMTP Error Codes"), whose meaning its documentation gives
    # and the generic words below would misread: a signature match (a virus, or a spam score over the maximum),
    # its relay, size, account and policy refusals.
    ("virusdetected", r"rejected due to security polic(?:y|ies)"),
    ("norelaying", r"open relay not allowed"),
    ("notaccept", r"account inbounds disabled"),
    ("toomanyconn", r"account service is temporarily unavailable|exceeding outbound thread limit"),
    ("mesgtoobig", r"maximum email size exceeded"),
    ("policyviolation", r"anti-spoofing policy|content examination policy|host network not allowed"),
    ("rejected", r"administrative prohibition envelope blocked|envelope blocked . user (?:domain )?entry|block policy for (?:envelope|header) from"),
    ("systemerror", r"unable to process (?:connection|command|an email) at this time|message ended early"),
    # Greylisting (a temporary refusal every first try of a new sender, host and recipient gets) names no cause:
    # not the address (Postfix's "Recipient address rejected: Greylisted"), not a block; the readers then take
    # what the notice says about retrying (a message that outlived it expired).
    ("undefined", r"grey ?list|gray ?list|grey-list"),
    # Our sender address refused (Sisimai's "rejected"): invalid, empty or unowned, a blocklisted sender address (not
    # our IP), BATV or unsigned-DSN checks; before the blocklist rules, which would read "blacklisted" as our host.
    ("rejected", r"invalid sender|sender\b.{0,24}(?:blacklisted|black list|is empty|spammer|not pre-approved)|bogus mail from|"
     r"mail from (?:is )?not owned|(?:empty|null) (?:envelope )?senders?\b.{0,12}not allowed|no third-party dsns|unsigned dsn|\bbatv\b|"
     r"domain of sender address|emetteur invalide"),
    # The recipient's own rules refuse us (Sisimai's "filtered"): accepting mail only from chosen senders, "blocked by
    # the recipient", "refused due to recipient preferences", "rejected due to user rules".
    ("filtered", r"only accept\w* (?:mail|messages|e-?mail) from|refuses? to receive|blocked by (?:the )?recipient|"
     r"recipient(?:'s)? preferences|user(?:'s)? rules\b"),
    # Relaying refused in words the blocklist rules would take for a block ("not an open relay, so get lost").
    ("norelaying", r"not an open relay|insecure mail relay|allowed rcpthost"),
    ("virusdetected", r"virus|malware|infected|trojan|worm detected"),
    ("badreputation", r"reputation|sender score|\bip (?:address )?(?:is )?(?:listed|blacklisted)(?! by recipient)|unexpected volume|user complaints"),
    ("speeding", r"too (?:fast|quickly)|speeding|slow down|(?:sent|sending) (?:to )?too many .{0,40}(?:this|per|an|each|in the last) (?:hour|minute|day)"),
    ("blocked", r"client host (?:\S+ )?blocked|not accepting (?:smtp )?connections|adresse ip source bloquee|messages from \d{1,3}(?:\.\d{1,3}){3} weren.t sent"),
    ("spamdetected", r"\bspam\b|spamhaus.{0,80}content|junk mail|bulk mail|unsolicited|\bube\b|message (?:was )?(?:classified|identified|detected|considered) as spam|content (?:was )?(?:rejected|blocked) as spam|spam score|high probability of spam|appears to be spam|spamassassin|looks like spam|blacklisted (?:url|link|domain in (?:the )?(?:message|body))"),
    ("requireptr", r"reverse (?:dns|dns lookup|lookup|hostname)|no ptr|ptr record|cannot find your hostname|client host .{0,80} (?:has no|without) (?:a )?ptr|\brdns\b|does not resolve to (?:your )?(?:ip|address)"),
    ("authfailure", r"\bspf\b|\bdkim\b|\bdmarc\b|sender policy framework|authentication (?:checks? )?(?:failed|results)|not authorized to send"),
    ("securityerror", r"authentication required|\bauthrequired\b|unauthenticated|must (?:be )?authenticat|starttls|\btls\b|encryption (?:required|needed)|certificate"),
    ("blocked", r"block ?list|black ?list|\bblocked\b.{0,80}\b(?:ip|host|client|connection)|\b(?:ip|host|client|connection)\b.{0,80}\bblocked\b|\brbl\b|\bdnsbl\b|spamcop|spamhaus|sorbs|barracuda|listed (?:at|on|in)|access denied.{0,80}\b(?:ip|client)|connection refused|refused to talk|not allowed to connect|your (?:ip|network|server) .{0,80}(?:banned|denied|rejected)|invalid ip for sending|messages from \d{1,3}(?:\.\d{1,3}){3} weren.t sent|no access from|open relay|my name was rejected|bloquee"),
    ("toomanyconn", r"too many (?:connections|concurrent|sessions|simultaneous|recipients)|connection (?:limit|rate limit) exceeded|connection rate limit|max(?:imum)? (?:number of )?connections|connection limit|trop de connexions"),
    # A full mailbox said in words the size and rate rules below would take: "mailbox size limit exceeded", "user has
    # too many messages on the server", "mailbox would exceed maximum allowed storage", "quota violation".
    ("mailboxfull", r"mailbox size limit|too many messages on the server|too many messages in (?:the |this |your )?(?:mailbox|inbox)|"
     r"(?:mailbox|storage) would exceed|quota violation"),
    ("ratelimited", r"rate limit|rate-limit|ratelimit|too many (?:messages|emails|mails)|sending (?:rate|limit)|throttl|try (?:again )?later.{0,80}(?:rate|limit)|exceeded .{0,80}(?:quota|limit) .{0,80}(?:per|hour|day)|deferred due to .{0,80}rate|(?:daily|hourly) (?:relay |sending )?quota"),
    # A relay that has not verified our sending identity (Amazon SES) will not relay for it.
    ("norelaying", r"(?:e-?mail )?address is not verified|identities failed the check|relay(?:ing)? (?:access )?(?:denied|not (?:permitted|allowed)|prohibited)|not permitted to relay|unable to relay|not (?:a )?(?:gateway|local)|we do not relay|relay not|no relaying|not allowed to relay|not configured to relay|domain isn.t in my list of allowed rcpthosts|rcpthosts"),
    ("mesgtoobig", r"message (?:is )?too (?:big|large)|message size|size (?:limit|exceeds)|exceeds? (?:the )?(?:maximum|max) (?:message )?size|message length exceeds|mail size|too large|line (?:limit|length) exceeded|line too long|file too big|taille limite"),
    ("mailboxfull", r"mailbox (?:is )?full|over ?quota|quota (?:exceeded|full)|exceeded (?:storage|(?:the )?quota)|disk quota|mailbox size limit|insufficient (?:disk )?(?:space|storage)|user(?:'s)? (?:mailbox|disk) (?:is )?(?:full|over)|mail ?box (?:has )?exceeded|not enough (?:disk |storage )?(?:storage|space)|full mailbox|account is full|recipient.{0,80}(?:is )?full|boite (?:pleine|est pleine)|postfach (?:ist )?voll|over (?:the|their|its|his|her|disk|allowed) (?:\w+ )?quota|exceed\w* (?:\w+ ){0,2}?quota|mailbox quota|quota usage|(?:mail ?folder|inbox) (?:is )?full|n.t have enough (?:disk |storage )?space|not have enough (?:disk |storage )?space|space has been used up|bo[iî]te .{0,30}pleine"),
    ("mailererror", r"^x-unix;|pipe to \||procmail:|mailer error|command (?:died|failed|output)|exit (?:code|status) \d|local delivery (?:program|agent) failed"),
    ("exceedlimit", r"exceed(?:ed|s)? (?:the )?(?:maximum|limit)|limit exceeded"),
    ("suspend", r"(?:account|mailbox)\b.{0,40}\b(?:is|has been) (?:disabled|suspended)|(?:account|mailbox|user|address) (?:has been |is |was )?(?:disabled|suspended|deactivated|inactive|expired|locked|frozen|blocked)|(?:disabled|suspended|inactive|deactivated) (?:account|mailbox|user)|mailbox (?:is )?(?:temporarily )?unavailable.{0,80}(?:disabled|suspend)|not active|no longer active|(?:is|been) (?:currently |temporarily )?suspended|currently suspended|temporar(?:il)?y locked|temporarily inactive|suspend\w* the service"),
    ("hasmoved", r"has moved|moved to|is no longer (?:at|with)|user has moved|address changed|forwarding address|no longer on server"),
    ("notaccept", r"null mx|accepts no mail|does not accept mail|not accept(?:ing)? (?:any )?(?:network )?(?:mail|messages)|no mail service|no (?:smtp|mail) service|no mx (?:found|record)|couldn.t find a mail exchanger|could not find a mail exchanger"),
    # A mail loop through our own MX list or aliases is our system's error; one seen as too many hops or a forwarding
    # loop on the way, and a DNS answer that was temporary or malformed, are network errors (as Sisimai reads them).
    ("systemerror", r"loop (?:was )?(?:broken|found in the mail exchanger)|loops back to myself"),
    ("networkerror", r"too many hops|hop count|routing loop|forwarding loop|message looping|possible mail loop|"
     r"host not found, try again|name server reply|unable to resolve route"),
    ("hostunknown", r"host (?:or domain name )?(?:not found|unknown)|unknown host|domain (?:not found|does not exist|is not configured|name not found|unknown)|no such (?:host|domain)|unrouteable (?:mail )?(?:domain|address)|unroutable|name or service not known|host not found|nxdomain|no mx|mx (?:record )?(?:not found|lookup failed)|non-existent (?:host|domain)|does not accept mail|dns (?:error|lookup fail)|unknown domain|invalid domain|domain.{0,80}no longer|all relevant mx records point to non-existent hosts|unresolvable|domain (?:must|may not|might not) exist|domain (?:is )?not reachable"),
    ("userunknown", r"user(?:name)? (?:is )?unknown|unknown (?:user|recipient|mailbox|local|address|alias|account|e-?mail address)|no such (?:user|mailbox|recipient|address|account|person|local user)|(?:user|recipient|mailbox|address|account|addressee)(?: address)? (?:does not|doesn.t|did not|not) exist|(?:user|recipient|mailbox|address|account) (?:not found|not known|not listed|unavailable|invalid)|(?:invalid|bad|unknown|nonexistent|non-existent) (?:recipient|user|mailbox|address|destination|account|final delivery userid)|not (?:a )?(?:valid|known) (?:recipient|user|mailbox|address)|mailbox (?:not found|unavailable|does not exist|is disabled)|recipient address rejected|recipient rejected|user not found|no mailbox|not our customer|is not a known user|unknown or illegal alias|invalid address|recipient ?not ?found|account.{0,80}(?:does not exist|not exist)|doesn.t have a .{0,80} account|addressee unknown|could not be delivered.{0,80}(?:does not exist|unknown)|check (?:if|that|whether) (?:the )?(?:e-?mail |recipient )?address is (?:correct|valid)|not listed in|destination address rejected|user doesn't have|mailbox does not|no valid recipients|dosn't exist|was not found|does not exist|undeliverable address|address (?:not found|couldn.t be found)|doesn't have an? \S+ account|wasn.t found at|recipientnotfound|not found by smtp address lookup|address you entered couldn.t be found|"
     # Lotus Domino's Japanese "not listed in Domino Directory" ("... は Domino ディレクトリには見つかりません") and
     # Notes' "not listed in public Name & Address Book" ("ディレクトリのリストにありません").
     r"ディレクトリ(?:に|には)見つかりません|ディレクトリのリストにありません"),
    # A sender address the relay will not send as ("Send mail as" settings of a hosted mailbox) is our sender refused.
    ("rejected", r"'?send mail as'? (?:feature|account|settings)|sender (?:address )?(?:rejected|denied|verify failed|verification failed|not (?:allowed|authorized))|unroutable sender|groups\.google\.com/support|permission to post|not (?:a )?member"),
    ("filtered", r"filter|rejected by (?:the )?recipient|recipient (?:has )?(?:refused|blocked|rejected)|not accepting (?:mail|messages) from|delivery not authorized|this user doesn.t accept|message rejected by"),
    ("syntaxerror", r"syntax error|command (?:not )?(?:recognized|unrecognized)|bad sequence|improper sequence|invalid command|parameter not implemented|unrecognized command|malformed address"),
    ("policyviolation", r"policy|prohibited|not allowed|violat|content (?:rejected|not allowed)|banned|forbidden|potential security issue"),
    ("notcompliantrfc", r"rfc ?(?:822|2822|5322|5321)(?!;)|not (?:rfc )?compliant|duplicate header|multiple .{0,80}headers?|malformed"),
    ("contenterror", r"content|attachment|header (?:syntax|error)|mime|illegal character|invalid (?:header|character|message)|8bit"),
    ("securityerror", r"encryption|ssl|secure connection|security"),
    ("expired", r"expired|(?:have been|has been|were) failing for a long time|too long|gave up|give up|giving up|timed? ?out|time(?:d)? out|retry timeout|could not be delivered (?:for|within|after)|has been (?:delayed|queued) for|not (?:been )?delivered (?:for|within)|delivery time|maximum time|undeliverable for|retry time|tried for|days? without|could not deliver .{0,80} for|failed \d+ attempts|after (?:multiple|several|\d+) (?:retries|attempts)|did not accept our requests to connect"),
    ("networkerror", r"network|connection (?:reset|closed|lost|timed|dropped)|lost connection|no route to host|unreachable|dns|unable to connect|connect to .{0,80} failed|could not connect|connection attempt failed|host .{0,80} not responding|broken pipe|lookup failure"),
    ("systemfull", r"system (?:is )?full|out of (?:disk|space|memory)|insufficient system|disk full|no space left"),
    ("toomanyconn", r"too many"),
    ("systemerror", r"system error|internal error|server error|configuration error|local error|mail loop|loops? (?:back|detected)|too many hops|hop count|routing loop|temporary (?:failure|error|problem)|try again later|try later|service (?:not available|unavailable|refused|refuse)|service currently unavailable|local configuration|misconfig|transaction failed|i/o error|queue file|resources temporarily|cannot (?:process|handle)|server busy|ldap server|config error|local problem|interrupted system call|can.t create .{0,40}file|error while being processed"),
    ("onhold", r"on hold|held for review|quarantin"),

]
# Orange and La Poste (France PTT) end every refusal with a documented code of theirs, "OFR_416", "LPN007_416",
# "OFR004_405 [405]", whose last three digits name the check that failed (their postmaster pages list them);
# it says more than the generic 5.5.0 or 4.2.1 they send with it. None: the code's text is a generic "service
# refused, please try later", so the words decide as usual.
_FRANCE_PTT_CODE = lazy(r"\b(?:lpn|lpnaaa|ofr|ouk)(?:_|\d{3}[-_])(\d{3})\b")
_FRANCE_PTT_NAMES: dict[str, str | None] = {
    "101": "blocked", "102": "blocked", "103": "blocked",  # our IP on a blocklist, or refused for spam incidents
    "104": "toomanyconn",  # too many connections, slow down
    "105": None, "107": None, "108": None, "109": None, "201": None, "423": None, "424": None, "513": None,
    "305": "securityerror",  # invalid authentication code
    "401": "authfailure",  # SPF: not allowed to send mail
    "402": "securityerror",  # authentication required
    "403": "rejected", "405": "rejected", "415": "rejected", "421": "rejected",  # invalid sender / not owned by user
    "416": "userunknown", "418": "userunknown",  # invalid recipient
    "417": "mailboxfull",  # recipient over quota
    "420": "suspend", "426": "suspend",  # archived or blocked recipient account
    "505": "systemerror",  # service refused at end of data
    "506": "spamdetected",  # mail rejected (spam)
    "510": "blocked",
    "514": "mesgtoobig",  # message size limit reached
    "517": "authfailure",  # DMARC verification failed
    "630": "policyviolation",  # client host rejected by policy
    "999": "blocked",
}
_FRANCE_PTT = {code: Reason(name) if name else None for code, name in _FRANCE_PTT_NAMES.items()}

# Only a bare "rejected"/"denied", tried when no rule matched: the code, when it has a class of its own, says more.
_BARE_REFUSAL = lazy(r"reject|refused|denied|not accepted|not permitted|unacceptable")



class _Rule:
    """One row of _TEXT_RULES, compiled on its first search: a command that reads one report compiles only the
    rules it tries (compiling the whole table was a third of `maild parse`'s start-up)."""

    __slots__ = ("reason", "source", "pattern", "literals", "branches")

    def __init__(self, reason: str, source: str) -> None:
        self.reason = Reason(reason)
        self.source = source
        self.pattern: re.Pattern[str] | None = None
        # The substrings one of which every match holds; None: always search (not derived yet, or none known).
        self.literals: frozenset[str] | None = None
        # The pattern's top-level alternatives, each with its own pre-check, when every one has one (see _derive_prefilters).
        self.branches: tuple[tuple[frozenset[str], LazyPattern], ...] | None = None

    def compiled(self) -> re.Pattern[str]:
        if self.pattern is None:
            # Matched against lower-cased text without re.I: case-insensitive matching made each search several times slower.
            self.pattern = recache.compile(self.source)
        return self.pattern


_RULES = [_Rule(reason, pattern) for reason, pattern in _TEXT_RULES]
# Per code reason, the index of the last rule naming a reason it yields to (-1: none; see reason_for).
_LAST_YIELD = {
    coded: max((i for i, rule in enumerate(_RULES) if rule.reason in among), default=-1) for coded, among in _YIELDS.items()
}
# Most samples match none of a rule's words, and a few substring checks cost less than one search; a rule with
# many alternative spellings is cheaper to search outright. Deriving them parses every pattern once more, which
# pays off over many reports, not for the one or two a short command reads: they are derived on the Nth sample.
_PREFILTER_FROM_SAMPLE = 4
_samples = 0
# Checked one by one, the ~800 words of the rules cost more than all the searches they spare (a Python loop of
# substring tests per sample); one scan of the sample finds which of them it holds (prefilter.LiteralScan), and
# only the rules holding one are looked at. With its trie text and code kept by core.recache, building the scan
# costs ~9M instructions and it saves ~0.23M a sample (0.40M through the loop, 0.17M through the scan, over the
# Sisimai files' 307 samples): even after ~40 samples. Built on this many-th sample, so a command reading one report
# (at most 6 samples in the corpus) never builds it, and `maild parse` over a few hundred files does early on.
_SCAN_FROM_SAMPLE = 32
_scan: LiteralScan | None = None
_rules_of: dict[str, tuple[int, ...]] = {}  # a word -> the indices of the rules it pre-checks
_unchecked: frozenset[int] = frozenset()  # the rules with no words to check: always searched


def _derive_prefilters() -> None:
    for rule in _RULES:
        lits = literals_of(rule.source)  # the rules whose words a text never holds are never compiled
        rule.literals = lits if lits is not None and len(lits) <= 16 else None
        # A rule matches when one of its top-level alternatives matches somewhere. Searched whole, a rule of twenty
        # alternatives tries all twenty at every offset of the text ("block ?list|...|\\bblocked\\b.{0,80}..." was
        # the costliest search of a parse); searched one by one, only the alternatives whose words the text holds
        # are tried, each with the engine's literal scan. Split only the rules whose words are too many for one
        # pre-check (the others are mostly skipped by it, and searched whole they cost less than one by one), and
        # only when every alternative has words to check.
        split = worded_branches(rule.source) if rule.literals is None else None
        if split is not None:
            rule.branches = tuple((words, lazy(branch)) for words, branch in split)




def _derive_scan() -> None:
    """The one-pass scan over every rule's words, and which rules each word may let through (after _derive_prefilters)."""
    global _scan, _rules_of, _unchecked
    rules_of: dict[str, set[int]] = {}
    unchecked: set[int] = set()
    for i, rule in enumerate(_RULES):
        words = (
            [w for words, _ in rule.branches for w in words] if rule.branches is not None
            else list(rule.literals) if rule.literals is not None else None
        )
        if words is None:
            unchecked.add(i)
            continue
        for word in words:
            rules_of.setdefault(word, set()).add(i)
    _rules_of = {word: tuple(sorted(rules)) for word, rules in rules_of.items()}
    _unchecked = frozenset(unchecked)
    _scan = LiteralScan(rules_of)


def compiled_rules() -> list[tuple[Reason, re.Pattern[str]]]:
    """Every text rule in order, compiled (for tests of the table and its pre-checks)."""
    return [(rule.reason, rule.compiled()) for rule in _RULES]

# The SMTP command a reply answered, as bounces word it: Postfix "(in reply to RCPT TO command)", Exim "after
# RCPT TO:", Sendmail ">>> DATA", qmail "Connected to ... but sender was rejected". Matched on lower-cased text.
_COMMAND = lazy(
    r"in reply to (?:the )?(?:end of )?(rcpt|mail|data|ehlo|helo)\b|"
    r"(?:after|during|for) (?:the )?(?:end of )?(rcpt|mail|data|ehlo|helo|initial connection|greeting|text)\b|"
    r"(?:>>>|in:|smtp command:?|-+smtp command) ?(rcpt|mail|data|ehlo|helo)\b|"
    r"did not like our (rcpt|mail|data)\b|"
    r"but (sender|my name) was rejected|\[(rcpt)_to\]|\[(mail)_from\]|\[(data)\]"
)
# Searched whole, it tried its eight alternatives at nearly every offset (a third of reason_for's time).
_COMMAND_SPLIT = Leftmost(_COMMAND)
_COMMAND_NAMES = {
    "rcpt": "RCPT", "mail": "MAIL", "sender": "MAIL", "data": "DATA", "text": "DATA", "ehlo": "HELO", "helo": "HELO",
    "my name": "HELO", "initial connection": "CONN", "greeting": "CONN",
}

# What a message that names a reason but no code most likely meant; used to fill a missing status.
DEFAULT_STATUS: dict[str, str] = {r.value: row.default_status for r, row in REASON_TABLE.items() if row.default_status}


def code_says_why(status: str | None) -> bool:
    """Whether an enhanced code alone is precise enough to decide a reason (4.2.2 mailbox full), not only a class (4.4.0)."""
    code = STATUS_CODE.fullmatch(status.strip()) if status else None
    if code is None:
        return False
    return f"{int(code.group(2))}.{int(code.group(3))}" in _CODE_REASON


def smtp_command(text: str | None) -> str | None:
    """The SMTP command the quoted reply answered (RCPT, MAIL, DATA, HELO, CONN), or None when not said."""
    if not text:
        return None
    return _command_in(" ".join(text[:4000].lower().split()))


# Like _TEXT_REASONS: a dialect and the generic reader after it, a bounce's lines and then its whole text, ask
# about the same sample; and reason_for's own sample is already the normalised text smtp_command would make.
_COMMANDS: dict[str, str | None] = {}


def _command_in(sample: str) -> str | None:
    """smtp_command of a sample already lower-cased with its white space collapsed."""
    if sample in _COMMANDS:
        return _COMMANDS[sample]
    if len(_COMMANDS) >= _TEXT_REASONS_KEPT:
        _COMMANDS.clear()
    match = _COMMAND_SPLIT.search(sample) if _samples >= _PREFILTER_FROM_SAMPLE else _COMMAND.search(sample)
    found = _COMMANDS[sample] = _COMMAND_NAMES[next(g for g in match.groups() if g)] if match else None
    return found


def reason_for(status: str | None, text: str | None, *, command: str | None = None) -> tuple[Reason, bool]:
    """(reason, hard) from an enhanced status code like "5.1.1" and/or the diagnostic text; never raises.

    ``command`` is the SMTP command the reply answered when the caller knows it from elsewhere (a transcript
    beside a DSN); otherwise it is read from the text.
    """
    code = STATUS_CODE.fullmatch(status.strip()) if status else None
    klass, detail = (code.group(1), f"{int(code.group(2))}.{int(code.group(3))}") if code else (None, None)
    sample = " ".join(text[:4000].lower().split()) if text else ""
    if command is None and sample:
        # The sample is smtp_command's own normalisation of the text (lower-casing and splitting ASCII again is the identity).
        command = _command_in(sample) if sample.isascii() and len(sample) <= 4000 else smtp_command(sample)
    coded = _CODE_REASON.get(detail) if detail else None
    # With a code that decides, the text matters only if it names one of the reasons the code yields to: the
    # rules after the last of those are not tried (a command reading one report then compiles fewer of them).
    texted = _text_reason(sample, None if coded is None else _LAST_YIELD.get(coded, -1)) if sample else None
    # Every match holds one of the three prefixes: three substring tests spare a search tried at every offset.
    provider = _FRANCE_PTT_CODE.search(sample) if sample and ("lpn" in sample or "ofr" in sample or "ouk" in sample) else None
    reason: Reason | None = None
    if provider is not None and _FRANCE_PTT.get(provider.group(1)) is not None:
        reason = _FRANCE_PTT[provider.group(1)]
    elif coded is not None:
        reason = texted if texted in _YIELDS.get(coded, ()) else coded
        if reason is Reason.USERUNKNOWN and command == "MAIL":
            reason = Reason.REJECTED
    elif texted is not None:
        reason = texted
        if reason in (Reason.USERUNKNOWN, Reason.HOSTUNKNOWN, Reason.FILTERED) and command == "MAIL":
            # Refused at MAIL FROM: the server did not like our sender address, whatever the words say.
            reason = Reason.REJECTED
        elif reason is Reason.USERUNKNOWN and (
            command == "DATA" or (command != "RCPT" and (detail or "").startswith("7.")) or bool(_NO_ADDRESS.search(sample))
        ):
            # A mailbox that "does not exist" only once the message was sent is a per-recipient content
            # filter (Sisimai's "filtered"): a refusal at RCPT TO, or a 5.1.x code, is what proves the address bad.
            # So is one under a 5.7.x code (the server says it refused by policy) not said to answer RCPT TO, and
            # one whose address slot is empty ("550 : User unknown"): a reply to RCPT TO names the address it
            # refuses; a server answering for the whole message after DATA has none to name.
            reason = Reason.FILTERED
        elif reason is Reason.HOSTUNKNOWN and klass == "4":
            reason = Reason.NETWORKERROR
        elif reason is Reason.CONTENTERROR and (detail or "").startswith("7."):
            reason = Reason.POLICYVIOLATION
    elif sample and _BARE_REFUSAL.search(sample):
        reason = _GENERIC.get(detail or "") or (
            Reason.SECURITYERROR if (detail or "").startswith("7.") else Reason.REJECTED
        )
    if reason is None and detail:
        reason = _GENERIC.get(detail)
        if reason is None:
            reason = (
                Reason.SECURITYERROR if detail.startswith("7.") else Reason.CONTENTERROR if detail.startswith("6.") else None
            )
    if command in ("HELO", "CONN") and (reason in _ABOUT_OUR_HOST or reason in _OUR_HOST_WHY):
        # Refused before any address was given: about our host.
        reason = Reason.BLOCKED
    if reason is None:
        reason = Reason.UNDEFINED
    return reason, is_hard(reason, status.strip() if status else None) and klass != "4"


_ABOUT_OUR_HOST = frozenset({
    None, Reason.REJECTED, Reason.ONHOLD, Reason.SECURITYERROR, Reason.SYSTEMERROR, Reason.SYNTAXERROR,
})
# Why a server may refuse our host at the greeting; refused before any address or message, it is a block of
# our host whatever the why (Sisimai's "blocked"), and the text keeps the why for a human.
_OUR_HOST_WHY = frozenset({
    Reason.REQUIREPTR, Reason.RATELIMITED, Reason.SPEEDING, Reason.BADREPUTATION, Reason.POLICYVIOLATION,
    Reason.AUTHFAILURE, Reason.NORELAYING,
})
# A refusal whose recipient slot is empty: "550 : User unknown", "550: : User unknown", "550 <>: User unknown".
_NO_ADDRESS = lazy(r"\b5\d\d:? (?:<> ?)?: ")


# The same text is often asked about twice in one message (a dialect and the generic reader after it, a bounce's
# lines about an address and then its whole text): a quarter of the calls over the corpus. Pure, so kept.
_TEXT_REASONS: dict[tuple[str, int | None], Reason | None] = {}
_TEXT_REASONS_KEPT = 256


def _text_reason(sample: str, last: int | None = None) -> Reason | None:
    """The reason of the first rule matching the sample; with `last`, None once the rules up to that index failed."""
    key = (sample, last)
    if key in _TEXT_REASONS:
        return _TEXT_REASONS[key]
    if len(_TEXT_REASONS) >= _TEXT_REASONS_KEPT:
        _TEXT_REASONS.clear()
    found = _TEXT_REASONS[key] = _match_rules(sample, last)
    return found


def _match_rules(sample: str, last: int | None) -> Reason | None:
    global _samples
    _samples += 1
    if _samples == _PREFILTER_FROM_SAMPLE:
        _derive_prefilters()
    elif _samples == _SCAN_FROM_SAMPLE:
        _derive_scan()
    if _scan is not None:
        return _scanned(_scan, sample, last)
    for rule in _RULES if last is None else _RULES[: last + 1]:
        branches = rule.branches
        if branches is not None:
            for words, branch in branches:
                for s in words:
                    if s in sample:
                        if branch.search(sample):
                            return rule.reason
                        break
            continue
        literals = rule.literals
        if literals is not None:
            for s in literals:  # a plain loop: a generator per rule cost as much as the substring tests
                if s in sample:
                    break
            else:
                continue
        if (rule.pattern or rule.compiled()).search(sample):
            return rule.reason
    return None


def _scanned(scan: LiteralScan, sample: str, last: int | None) -> Reason | None:
    """_match_rules once the scan is built: only the rules (and alternatives) whose words the sample holds are searched."""
    present = scan.found(sample)
    rules_of = _rules_of
    candidates = set(_unchecked)
    for word in present:
        candidates.update(rules_of[word])
    for i in sorted(candidates):
        if last is not None and i > last:
            break
        rule = _RULES[i]
        branches = rule.branches
        if branches is not None:
            for words, branch in branches:
                if not words.isdisjoint(present) and branch.search(sample):
                    return rule.reason
            continue
        if (rule.pattern or rule.compiled()).search(sample):
            return rule.reason
    return None
