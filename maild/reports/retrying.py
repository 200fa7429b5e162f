"""Whether a notice says the MTA gave up or keeps trying: the action (failed or delayed) read from its words, not a code's digit.

An MTA that ran out of retries often quotes the last temporary reply it got ("450 4.2.2 mailbox full"),
so a 4.x.x code in a failure notice does not make it a delay: qmail's "This is a permanent error; I've
given up", Exim's "retry timeout exceeded", Gmail's "failed permanently" say failed. A delay warning may
quote a 5.x.x reply from one of several hosts while the message stays queued: OpenSMTPD's "only a
temporary failure report", Gmail's "Message will be retried", Sendmail's "Warning: could not send message
for past 4 hours" (its subject; a bare "Warning:" says nothing, MDaemon heads failures with it), Exim's
"Delivery attempts will continue for some time" say delayed. A count of the attempts made ("Tried 5 time(s)",
"failed 20 attempts") is said once the MTA stopped: failed. When a notice says both (a digest of several
recipients), neither wins and the code decides.
"""

from __future__ import annotations

import re
from enum import StrEnum

from maild.core.lazyre import lazy
from maild.core.prefilter import Alternatives


class Retry(StrEnum):
    GAVE_UP = "gave_up"  # the message will not be tried again: failed
    KEEPS_TRYING = "keeps_trying"  # still queued: delayed


_KEEPS_TRYING_SUBJECT = lazy(
    r"\bdelay|could not (?:send|deliver) (?:the )?message for (?:the )?past|will retry|still (?:being )?tr|not yet been delivered|temporar|verzögert|retard|\(delay\)", re.I,
)
_KEEPS_TRYING = lazy(
    r"will (?:be )?(?:re)?tr(?:y|ied)|still (?:be(?:ing)? )?tr(?:y|ied)|no action is required|delivery (?:has been|is) delayed|"
    r"not yet been delivered|will continue (?:to )?try|further attempts|warning message only|this is only a warning|"
    r"only a temporary failure|temporary failure report|(?:do not|don't) need to re-?send|kept in the queue|"
    r"has been delayed|retry (?:will|again) (?:be made|in)|will be attempted again|is still being tried|"
    r"delivery attempts will continue|will continue to try to deliver|"
    # Sendmail's warning (envelope.c, savemail.c): "----- The following addresses had transient non-fatal errors -----",
    # "Warning: message still undelivered after 4 hours", "Will keep trying until message is 5 days old", and for a
    # Deliver-By notify "Warning: Delivery time (3600s) exceeded".
    r"transient non-fatal errors|still undelivered after|will keep trying|delivery time \(\d+s\) exceeded|"
    # Exchange's delay notice ("Delivery will continue to be attempted"), other MTAs' "will continue to attempt
    # delivery", "retries will continue"; and the same in the other languages notices come in: German "es wird
    # weiterhin versucht" / "dies ist nur eine Warnung" / "die Zustellung wurde verzögert", French "une nouvelle
    # tentative sera effectuée", Spanish "se volverá a intentar", Italian "verrà ritentata"; each accented letter is
    # a "." (the split into alternatives behind their words, core.prefilter, takes ASCII words only).
    r"will continue to be attempted|will continue to attempt|(?:retries|attempts|delivery attempts) will continue|"
    r"(?:weiterhin|erneut) versucht|nur eine warnung|zustellung (?:wurde |ist |hat sich )?verz.gert|nouvelle tentative sera|"
    r"se volver. a intentar|verr. ritentat",
    re.I,
)
_GAVE_UP = lazy(
    r"permanent (?:error|failure)|failed permanently|permanently (?:failed|rejected|undeliverable)|(?:i've|i have|has) given up|"
    r"giving up\b|not going to try again|gave up|retry time(?:out)? (?:exceeded|not reached for any host after a long failure)|"
    r"have been failing for a long time|could not be delivered (?:for|within|after) \d|too long in the queue|"
    r"been in the queue too long|message (?:has )?expired|expired in queue|delivery time expired|"
    r"no further (?:delivery )?attempts|will not be (?:re)?tried|won't be (?:re)?tried|will not (?:try|retry)|"
    # The count of attempts made, said once the MTA stopped: hMailServer's "Tried 5 time(s)" (ExternalDelivery.cpp),
    # IMail's "Delivery failed 20 attempts", "after multiple retries" / "after 3 attempts".
    r"\btried \d+ time(?:s|\(s\))|failed (?:after )?\d+ (?:delivery )?attempts|"
    r"after (?:\d+|multiple|several|many|repeated) (?:delivery )?(?:attempts|retries|tries)|"
    # Sendmail's return (savemail.c, envelope.c's queue timeout): "----- The following addresses had permanent fatal
    # errors -----", "Cannot send message for 5 days", "Message will be deleted from queue", and a Deliver-By
    # return "Delivery time (3600s) expired".
    r"permanent fatal errors|cannot send message for \d|will be deleted from (?:the )?queue|delivery time \(\d+s\) expired|"
    # Exchange 2000/2003's 4.4.7 "Could not deliver the message in the time limit specified"; a retry period, limit
    # or count run out ("retry period has expired", "maximum number of retries exceeded", "retry limit exceeded"),
    # "has stopped trying", "delivery attempts have been abandoned"; and "permanent error" in German, French,
    # Spanish, Italian and Dutch (permanenter Fehler, erreur permanente, error permanente, errore permanente,
    # permanente fout).
    r"in the time limit specified|retry (?:period|limit|time) (?:has )?(?:expired|exceeded|reached)|"
    r"max(?:imum|\.)? (?:number of )?(?:retries|retry count|delivery attempts|attempts) (?:has been )?(?:exceeded|reached)|"
    r"stopped trying|attempts (?:have been|were) abandoned|"
    r"permanenter fehler|erreur permanente|error permanente|errore permanente|permanente fout",
    re.I,
)
_GAVE_UP_SUBJECT = lazy(r"\bfailed\b|failure|undeliver|returned mail|unzustellbar|non remis|permanent", re.I)
_KEEPS_TRYING_SAID = Alternatives(_KEEPS_TRYING)
_GAVE_UP_SAID = Alternatives(_GAVE_UP)


# qmail-send appends this to the last temporary failure's text when a message outlives its queue lifetime
# (qmail-send.c, a dying job's "Z" deferral turned into a "D" failure): the text before it is what failed.
_QUEUE_LIFETIME_ENDED = lazy(r"i'?m\s+not\s+going\s+to\s+try\s+again;\s*this\s+message\s+has\s+been\s+in\s+the\s+queue\s+too\s+long\.?", re.I)


def without_stop_notice(text: str) -> str:
    """The failure's own words without qmail's "I'm not going to try again; ... in the queue too long" suffix.

    That sentence says why the MTA stopped (its queue lifetime), not what failed; the reason comes from what
    failed, and only when that decides nothing is the reason the expiry itself.
    """
    stripped = _QUEUE_LIFETIME_ENDED.sub(" ", text)
    return stripped if stripped != text else text


def said(subject: str, text: str) -> Retry | None:
    """What the notice says about retrying, from its subject and the text about the failure (None: it does not say)."""
    sample = text[:5000]
    keeps = _KEEPS_TRYING_SAID.found_in(sample) or (
        _KEEPS_TRYING_SUBJECT.search(subject) is not None and _GAVE_UP_SUBJECT.search(subject) is None
    )
    gave = _GAVE_UP_SAID.found_in(sample)
    if keeps and not gave:
        return Retry.KEEPS_TRYING
    if gave and not keeps:
        return Retry.GAVE_UP
    return None


def action(retry: Retry | None, status: str | None, default: str = "failed") -> str:
    """failed or delayed: the notice's words first, then the code's class, then the default."""
    if retry is Retry.GAVE_UP:
        return "failed"
    if retry is Retry.KEEPS_TRYING:
        return "delayed"
    if status:
        return "delayed" if status.startswith("4") else "failed"
    return default
