"""The languages text read receipts come in: one row per language with its subject prefixes, body sentences and labels.

Outlook, Exchange and OWA write a read receipt without an RFC 8098 part in the sender's or the reader's
language: a subject prefix ("Read:", "Gelesen:", "Letto:") and a sentence built around "was read on" or "was
deleted without being read". A row holds what one language says; the body phrases are regular-expression
fragments (matched case-insensitively, across line breaks) written as stems, so a variant wording of the same
sentence still matches. Adding a language is one row here and one fixture; nothing else changes.
"""

from __future__ import annotations

from maild.core.frozen import frozen


@frozen
class ReceiptLocale:
    language: str  # ISO 639-1
    read_subjects: tuple[str, ...]  # subject prefixes before the colon: the message was read
    unread_subjects: tuple[str, ...]  # ... it was deleted (or otherwise closed) unread
    read_body: tuple[str, ...]  # sentences saying it was read (regex fragments)
    unread_body: tuple[str, ...]  # sentences saying it was deleted without being read
    subject_labels: tuple[str, ...]  # how the receipt labels the quoted subject of our message ("Subject:")


LOCALES: tuple[ReceiptLocale, ...] = (
    ReceiptLocale(
        "en", ("read",), ("not read",),
        ("was read on", "has been read", "was read at", r"your document:.{0,400}was received by"),
        (r"deleted without being read", r"was deleted .{0,40}without being read", r"\bnot read\b"),
        ("subject",),
    ),
    ReceiptLocale(
        "de", ("gelesen",), ("ungelesen", "nicht gelesen"),
        (r"wurde am .{0,200}?gelesen", r"wurde .{0,40}gelesen", r"ihr dokument:.{0,400}wurde von"),
        (r"ungelesen gelöscht", r"ohne .{0,30}gelesen .{0,20}gelöscht"),
        ("betreff",),
    ),
    ReceiptLocale(
        "fr", ("lu",), ("non lu",),
        ("a été lu", "a ete lu", "été lu le"),
        (r"supprimé sans (?:avoir été )?lu", "sans avoir été lu"),
        ("objet",),
    ),
    ReceiptLocale(
        "es", ("leído", "leido"), ("no leído", "no leido"),
        ("se leyó", "fue leído", "fue leido", "ha sido leído"),
        (r"eliminó sin (?:haber sido )?leído", "eliminado sin leer", "sin leerse"),
        ("asunto",),
    ),
    ReceiptLocale(
        "it", ("letto",), ("non letto",),
        ("è stato letto", "e stato letto"),
        ("eliminato senza essere letto",),
        ("oggetto",),
    ),
    ReceiptLocale(
        "pt", ("lida", "lido"), ("não lida", "nao lida", "não lido"),
        ("foi lida", "foi lido"),
        ("excluída sem ter sido lida", "excluída sem ser lida"),
        ("assunto",),
    ),
    ReceiptLocale(
        "nl", ("gelezen",), ("niet gelezen",),
        ("is gelezen", "werd gelezen"),
        ("verwijderd zonder", r"zonder te (?:zijn )?gelezen"),
        ("onderwerp",),
    ),
    ReceiptLocale(
        "ru", ("прочитано", "прочитан"), ("не прочитано", "непрочитано"),
        ("было прочитано", "прочитано"),
        ("удалено без прочтения",),
        ("тема",),
    ),
    ReceiptLocale(
        "zh", ("已读", "已讀", "开封", "已阅读"), ("未读", "未讀"),
        ("已读", "已被阅读", r"已於.{0,40}讀取", "已读取", "被阅读"),
        ("未读", "未阅读", "未讀"),
        ("主题", "主題"),
    ),
    ReceiptLocale(
        "ja", ("開封済み",), ("未開封", "未読", "削除 (未開封)"),
        ("開封されました", "開封済み", "閲覧されました"),
        ("開封されずに削除", "未開封"),
        ("件名",),
    ),
    ReceiptLocale(
        "pl", ("przeczytane", "przeczytano", "przeczytana"), ("nieprzeczytane", "nie przeczytano", "nieprzeczytana"),
        (r"został[ao]? przeczytan", r"\bprzeczytan[aoy]\b"),
        (r"usunięt[ao]? bez (?:przeczytania|odczytania)", "bez przeczytania"),
        ("temat",),
    ),
    ReceiptLocale(
        "sv", ("läst",), ("oläst", "inte läst", "ej läst"),
        (r"\blästes\b", r"har lästs", r"blev läst"),
        (r"togs bort utan att (?:ha )?(?:lästs|läsas)", "utan att ha lästs", "utan att läsas"),
        ("ämne",),
    ),
    ReceiptLocale(
        "da", ("læst",), ("ulæst", "ikke læst"),
        (r"blev læst", r"er blevet læst", r"\blæst den\b"),
        (r"slettet uden at (?:være|blive|være blevet) læst", r"uden at (?:være|blive) læst"),
        ("emne",),
    ),
    ReceiptLocale(
        "no", ("lest",), ("ulest", "ikke lest"),
        (r"ble lest", r"er (?:blitt )?lest", r"\blest den\b"),
        (r"slettet uten å (?:ha blitt |bli |være )?lest", r"uten å (?:ha blitt |bli |være )lest"),
        ("emne",),
    ),
    ReceiptLocale(
        "fi", ("luettu",), ("lukematon", "ei luettu", "lukematta"),
        (r"\bluettiin\b", r"on luettu", r"\bluettu\b"),
        (r"poistettiin lukematta", r"\blukematta\b"),
        ("aihe",),
    ),
    ReceiptLocale(
        "cs", ("přečteno", "přečtená"), ("nepřečteno", "nepřečtená"),
        (r"byl[ao]? přečten", r"\bpřečten[ao]?\b"),
        (r"(?:odstraněn|odstraněna|smazán|smazána|odstraněno) bez přečtení", "bez přečtení"),
        ("předmět",),
    ),
    ReceiptLocale(
        "tr", ("okundu",), ("okunmadı", "okunmadi"),
        (r"\bokundu\b",),
        (r"okunmadan silindi", r"\bokunmadan\b"),
        ("konu",),
    ),
    ReceiptLocale(
        "ko", ("읽음",), ("읽지 않음",),
        ("읽었습니다", "읽혔습니다", "읽음"),
        (r"읽지 않고 삭제", r"읽지 않은 상태로 삭제"),
        ("제목",),
    ),
    ReceiptLocale(
        "hu", ("olvasva", "elolvasva", "olvasott"), ("nem olvasott", "olvasatlan"),
        (r"\belolvast[aá]k\b", r"\belolvasva\b", r"el lett olvasva", r"\bolvasták\b"),
        (r"olvasatlanul töröl", r"elolvasás nélkül töröl"),
        ("tárgy",),
    ),
    ReceiptLocale(
        "el", ("αναγνώστηκε", "αναγνωσμένο", "διαβάστηκε"), ("δεν διαβάστηκε", "δεν αναγνώστηκε", "μη αναγνωσμένο"),
        (r"διαβάστηκε", r"αναγνώστηκε"),
        (r"διαγράφηκε χωρίς να (?:διαβαστεί|αναγνωστεί)", r"χωρίς να (?:διαβαστεί|αναγνωστεί)"),
        ("θέμα",),
    ),
)


def languages() -> tuple[str, ...]:
    return tuple(row.language for row in LOCALES)
