"""parse_disposition (RFC 8098 section 3.2.6): the disposition type is the word after the mode's semicolon, not any
disposition word in the field; a field that does not follow the grammar still yields the word it names."""

from __future__ import annotations

import pytest

from maild.reports.mdn import parse_disposition


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("manual-action/MDN-sent-manually; displayed", ("displayed", ())),
        ("automatic-action/MDN-sent-automatically; deleted", ("deleted", ())),
        ("Manual-Action/MDN-Sent-Manually; DISPLAYED/error,warning", ("displayed", ("error", "warning"))),
        # the position decides: "displayed" and "processed" here are (odd) mode words, the type is "deleted"
        ("displayed/processed; deleted", ("deleted", ())),
        # not the grammar: the first disposition word anywhere
        ("(sent by a broken client) displayed", ("displayed", ())),
        ("; processed", ("processed", ())),
        ("manual-action/MDN-sent-manually; unheard-of", (None, ())),
        ("", (None, ())),
    ],
)
def test_parse_disposition(value: str, want: tuple[str | None, tuple[str, ...]]) -> None:
    assert parse_disposition(value) == want
