"""The IMAP UID state machine, pure: where last_uid goes after SELECT and after a batch."""

from __future__ import annotations

from maild.receipts.imap_state import DoneUids, FolderState, advance, on_select


def test_select_keeps_the_stored_state_of_the_same_uidvalidity() -> None:
    stored = FolderState(7, 42)
    assert on_select(stored, 7) is stored


def test_select_without_state_or_with_a_new_uidvalidity_starts_from_uid_zero() -> None:
    assert on_select(None, 7) == FolderState(7, 0)
    assert on_select(FolderState(6, 42), 7) == FolderState(7, 0)


def test_a_batch_with_nothing_waiting_moves_to_its_highest_uid() -> None:
    assert advance(FolderState(1, 10), [11, 12, 15], done=[], waiting=[]) == FolderState(1, 15)


def test_last_uid_stops_just_below_the_lowest_uid_still_waiting() -> None:
    assert advance(FolderState(1, 10), [11, 12, 13, 14], done=[11, 12, 14], waiting=[13, 14]) == FolderState(1, 12)


def test_last_uid_never_goes_back() -> None:
    assert advance(FolderState(1, 10), [11], done=[], waiting=[11]) == FolderState(1, 10)


def test_done_uids_above_last_uid_are_remembered_and_forgotten_below_it() -> None:
    done = DoneUids()
    done.above(FolderState(1, 10)).update({12, 13})
    assert done.above(FolderState(1, 12)) == {13}


def test_a_new_uidvalidity_forgets_every_done_uid() -> None:
    done = DoneUids()
    done.above(FolderState(1, 10)).update({12, 13})
    assert done.above(FolderState(2, 0)) == set()
