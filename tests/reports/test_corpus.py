"""Scores the parser on the shared bounce corpus and fails below the issue's thresholds.

Metrics, exactly as computed here, over the files of expected.jsonl:

* scored files: lines with ``"scored": true``.
* expected bounced set of a file: the lower-cased addresses of its recipients with ``bounced: true``
  (failed or delayed deliveries).
* parser's bounced set: lower-cased addresses of the Report's recipients whose action is
  ``failed`` or ``delayed`` (so auto-replies, ARF complaints, MDNs and delivered DSN entries never count).
* recall = sum over scored files of |expected ∩ parser| / sum over scored files of |expected|.
* precision = sum over scored files of |expected ∩ parser| / sum over scored files of |parser|.
* status accuracy = over matched bounced recipients whose expected status is not null and not
  pseudo (``status_pseudo`` false), the share where the parser's status equals the expected one.
* false positives = files whose expected kind is ``unknown`` or that expect no bounced recipient
  (auto-replies, ARF), plus the ``not/`` folder, where the parser reports at least one bounced recipient.
* crashes = files where ``parse`` raised, or reported a "parser error" problem.
* action accuracy = over matched bounced recipients whose expected action is not null, the share where the
  parser's action (failed or delayed) equals the expected one.
* reason accuracy = over matched bounced recipients whose expected reason is not null, the share where the
  parser's reason equals the expected (Sisimai's) one. Which expected reasons that covers: every failure
  reason, including ``mailererror`` (a local delivery program failed; the parser has it too), ``onhold`` and
  ``undefined`` (counted: the parser can say those as well). The non-failure reasons never enter it:
  ``feedback`` (ARF) and ``vacation`` (auto-replies) sit on recipients with ``bounced: false``, and
  ``delivered`` entries are not bounced either, so the bounced-only matching excludes them by construction.
  Recipients whose expected reason is null (flufl's tests give addresses only) are not counted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from maild.reports import parse

# Reached when set (issue 10, third pass): recall 0.993 (444/447), precision 0.996 (444/446), status 0.996 (234/235),
# action 0.959 (424/442), reason 0.929 (300/323); each threshold is the measured figure rounded down, so losing one
# recipient fails. What the remaining misses are: all 18 action misses are Sisimai's reading,
# not the notice's (Sisimai 4.25's Sisimai/Data.pm, where its module found no Action field: "delayed" for any reason
# "expired", else "failed" for any 4.x.x or 5.x.x code): 12 "delayed" for notices that say they stopped ("Giving up",
# "permanent error", "failed permanently", "not going to try again", "Delivery failed 20 attempts", "retry timeout
# exceeded", "have been failing for a long time", "not delivered within 0 days and 1 hours"); 2 "delayed" for OpenSMTPD's
# expiry notices before 7.3, which use the delay template although queue.c deleted the envelope (fixed upstream in commit
# 69642ec2, "misleading bounce report"; tests/e2e/test_opensmtpd_notices.py shows 6.8 doing it); 4 "failed" for delay
# warnings (OpenSMTPD's "only a temporary failure report", once with Action: delayed, Gmail's "Message will be retried",
# Postfix smtpd's 451 transcript to the postmaster). The two extras: the same Postfix "expanded from" shape read two ways
# by the two oracles (flufl's dsn_17 wants the Original-Recipient where Sisimai's rfc3464-09, postfix-01, -77 and -79
# want the Final-Recipient), and a Domino notice whose text names another domain than its Final-Recipient and the
# returned message's To.
THRESHOLDS = {"recall": 0.993, "precision": 0.995, "status_accuracy": 0.995, "action_accuracy": 0.959, "reason_accuracy": 0.928}


@dataclass
class Score:
    expected: int = 0
    found: int = 0
    matched: int = 0
    status_total: int = 0
    status_right: int = 0
    false_positives: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    wrong_status: list[str] = field(default_factory=list)
    action_total: int = 0
    action_right: int = 0
    wrong_action: list[str] = field(default_factory=list)
    reason_total: int = 0
    reason_right: int = 0
    wrong_reason: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        return self.matched / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.matched / self.found if self.found else 1.0

    @property
    def status_accuracy(self) -> float:
        return self.status_right / self.status_total if self.status_total else 1.0

    @property
    def action_accuracy(self) -> float:
        return self.action_right / self.action_total if self.action_total else 1.0

    @property
    def reason_accuracy(self) -> float:
        return self.reason_right / self.reason_total if self.reason_total else 1.0

    def summary(self) -> str:
        return (
            f"recall {self.recall:.3f} ({self.matched}/{self.expected}), precision {self.precision:.3f} "
            f"({self.matched}/{self.found}), status accuracy {self.status_accuracy:.3f} "
            f"({self.status_right}/{self.status_total}), action accuracy {self.action_accuracy:.3f} "
            f"({self.action_right}/{self.action_total}), reason accuracy {self.reason_accuracy:.3f} "
            f"({self.reason_right}/{self.reason_total}), false positives {len(self.false_positives)}, "
            f"crashes {len(self.crashes)}"
        )


def score_corpus(root: Path) -> Score:
    score = Score()
    bounces = root / "bounces"
    for line in (bounces / "expected.jsonl").read_text().splitlines():
        entry = json.loads(line)
        name = entry["file"]
        try:
            report = parse((bounces / name).read_bytes())
        except Exception as exc:  # counted, so the score shows it instead of stopping at the first
            score.crashes.append(f"{name}: {exc!r}")
            continue
        if any(p.startswith("parser error") for p in report.problems):
            score.crashes.append(f"{name}: {report.problems}")
        got = {r.address.lower(): r for r in report.recipients if r.address and r.action in ("failed", "delayed")}
        want = {r["address"].lower(): r for r in entry["recipients"] if r["bounced"]}
        if not want and got and (entry["kind"] in ("unknown", "autoreply", "arf") or name.startswith("sisimai/not/")):
            score.false_positives.append(f"{name}: {sorted(got)}")
        if not entry["scored"]:
            continue
        score.expected += len(want)
        score.found += len(got)
        score.matched += len(want.keys() & got.keys())
        score.misses += [f"{name}: {a}" for a in want.keys() - got.keys()]
        score.extras += [f"{name}: {a}" for a in got.keys() - want.keys()]
        for address in want.keys() & got.keys():
            expected_status = want[address]["status"]
            if expected_status and not want[address]["status_pseudo"]:
                score.status_total += 1
                if got[address].status == expected_status:
                    score.status_right += 1
                else:
                    score.wrong_status.append(f"{name}: {address} want {expected_status} got {got[address].status}")
            expected_action = want[address]["action"]
            if expected_action:
                score.action_total += 1
                if got[address].action == expected_action:
                    score.action_right += 1
                else:
                    score.wrong_action.append(f"{name}: {address} want {expected_action} got {got[address].action}")
            expected_reason = want[address]["reason"]
            if expected_reason:
                score.reason_total += 1
                if got[address].reason == expected_reason:
                    score.reason_right += 1
                else:
                    score.wrong_reason.append(f"{name}: {address} want {expected_reason} got {got[address].reason}")
    return score


def test_bounce_corpus_scores_meet_thresholds(corpus: Path) -> None:
    score = score_corpus(corpus)
    print("\nbounce corpus:", score.summary())
    assert not score.crashes, score.crashes
    assert not score.false_positives, score.false_positives
    assert score.recall >= THRESHOLDS["recall"], score.misses
    assert score.precision >= THRESHOLDS["precision"], score.extras
    assert score.status_accuracy >= THRESHOLDS["status_accuracy"], score.wrong_status
    assert score.action_accuracy >= THRESHOLDS["action_accuracy"], score.wrong_action
    assert score.reason_accuracy >= THRESHOLDS["reason_accuracy"], score.wrong_reason
