"""The language a ticket or a reply is written in, detected offline with py3langid."""

from __future__ import annotations

import re
import threading

# Below this share of the probability the guess is no better than noise ("Crash on ARM" comes
# out 0.14 English): no language is claimed, and nothing that depends on one is done.
MIN_CONFIDENCE = 0.5
MIN_LETTERS = 12  # fewer letters than this (an error code, a one-word title) say nothing
SAMPLE_CHARS = 2000  # the start of a long text decides as well as all of it

# Code, links and paths are in no human language, and they would pull every guess to English.
_CODE = re.compile(r"```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`", re.S)
_NOISE = re.compile(r"https?://\S+|\S+@\S+|\S*[/\\_=#<>{}\[\]]\S*|\b\w*\d\w*\b")

# English names of the languages a prompt may ask for; any other is named by its code.
NAMES = {
    "ar": "Arabic", "bg": "Bulgarian", "ca": "Catalan", "cs": "Czech", "da": "Danish",
    "de": "German", "el": "Greek", "en": "English", "es": "Spanish", "et": "Estonian",
    "fa": "Persian", "fi": "Finnish", "fr": "French", "he": "Hebrew", "hi": "Hindi",
    "hr": "Croatian", "hu": "Hungarian", "id": "Indonesian", "it": "Italian", "ja": "Japanese",
    "ko": "Korean", "lt": "Lithuanian", "lv": "Latvian", "nb": "Norwegian", "nl": "Dutch",
    "no": "Norwegian", "pl": "Polish", "pt": "Portuguese", "ro": "Romanian", "ru": "Russian",
    "sk": "Slovak", "sl": "Slovenian", "sr": "Serbian", "sv": "Swedish", "th": "Thai",
    "tr": "Turkish", "uk": "Ukrainian", "vi": "Vietnamese", "zh": "Chinese",
}

_identifier = None
_lock = threading.Lock()


def _identify():  # -> py3langid's LanguageIdentifier
    global _identifier
    with _lock:
        if _identifier is None:
            # Loading unpacks the model shipped inside the package (about 0.8 s, once).
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _identifier


def prose(text: str) -> str:
    """`text` without code, links, paths and identifiers: the words a person wrote."""
    return " ".join(_NOISE.sub(" ", _CODE.sub(" ", text[:SAMPLE_CHARS])).split())


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of the language `text` is written in, or None when it is too short
    or too mixed to tell."""
    words = prose(text or "")
    if sum(c.isalpha() for c in words) < MIN_LETTERS:
        return None
    language, confidence = _identify().classify(words)
    return language if confidence >= MIN_CONFIDENCE else None


def language_name(code: str) -> str:
    """The English name of a language code, for a prompt ("fr" -> "French")."""
    return NAMES.get(code, f"the language with ISO 639-1 code '{code}'")
