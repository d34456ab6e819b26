"""``cockpit.redact``: ``Redactor`` (behind ``Plan.redact``): secrets, their fragments and
encodings; ``find_secret`` and ``redact``: the shapes of a secret that is not a known value."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.config import load_plan
from cockpit.redact import KEYWORDS, MASK, Redactor, find_secret, redact

SAMPLE = Path(__file__).resolve().parent.parent / "sample_configs" / "ehr-cutover.yaml"
# The documented split, written out again here rather than imported: the test is the oracle.
SPLIT = re.compile(r"[\s@:/?#&=;,'\"\\]+|%[0-9A-Fa-f]{2}")
ONLY_DELIMITERS = re.compile(r"(?:[\s@:/?#&=;,'\"\\]|%[0-9A-Fa-f]{2})+")


def pieces(secret: str) -> list[str]:
    found = [secret, unquote(secret), quote(secret, safe="")]
    for form in list(found):
        found += [p for p in SPLIT.split(form) if p.lower() not in KEYWORDS]
    return [p for p in found if len(p) >= 4 and not ONLY_DELIMITERS.fullmatch(p)]


def test_libpq_quotes_a_word_of_a_passphrase():
    redact = Redactor(["correct horse battery staple"])
    out = redact('invalid connection option: missing "=" after "horse" in connection info string')
    assert "horse" not in out and MASK in out
    assert redact("password=correct horse battery staple") == f"password={MASK}"


def test_unencoded_at_in_a_url_password():
    redact = Redactor(["s3cr@tpw0rd!"])
    out = redact("could not translate host name \"tpw0rd!@db.internal\" to address")
    assert "tpw0rd" not in out
    assert "s3cr" not in redact("user s3cr: unknown")


def test_percent_encoded_and_decoded_forms():
    redact = Redactor(["p@ss/w:rd 42"])
    for shown in ("postgresql://u:p%40ss%2Fw%3Ard%2042@h/db", "p%40ss%2fw%3ard+42", "p@ss/w:rd 42"):
        assert "w%3A" not in redact(shown) and "ss%2" not in redact(shown).lower()
    assert "hunter22" not in Redactor(["hunter%3222"])("pw hunter22")  # URL-decoded form


def test_a_whole_dsn_in_one_variable_does_not_blank_ordinary_words():
    dsn = "host=ehr-db.internal dbname=ehr user=cockpit_ro password=Tr0ub4dor sslmode=verify-full"
    redact = Redactor([dsn])
    out = redact('connection to server at "ehr-db.internal" failed: FATAL: password authentication '
                 'failed for user "cockpit_ro" (sslmode verify-full) Tr0ub4dor')
    assert "password authentication failed for user" in out and "sslmode verify-full" in out
    for secret_part in ("ehr-db.internal", "cockpit_ro", "Tr0ub4dor"):
        assert secret_part not in out


def test_short_values_are_left_alone_and_nothing_is_a_noop():
    assert Redactor(["abc"])("abc abc") == "abc abc"
    assert Redactor()("anything") == "anything" and not Redactor()


def test_masking_cannot_recreate_a_secret():
    redact = Redactor(["****"])
    assert "****" not in redact("*" * 50)
    assert "a***" not in Redactor(["a***"])("a" * 40 + "***")


def test_plan_redact_uses_the_redactor():
    env = {"LEGACY_DB_PASSWORD": "correct horse battery staple", "CLOUD_DB_PASSWORD": "p@ss:w0rd/42",
           "PROM_TOKEN": "tok-prom-1234567890", "JIRA_BASIC_AUTH": "amlyYTp4eHh4eA==",
           "SYNTHETIC_USER_KEY": "k-99999999"}
    plan, _ = load_plan(SAMPLE, env=env)
    out = plan.redact('missing "=" after "battery" in connection info string; host "w0rd/42@x"')
    assert "battery" not in out and "w0rd" not in out


secret_chars = st.sampled_from(list("abcdXYZ019 @:/?#&=;,'\"\\%-_.+é漢") + ["%40", "%2F", "%20"])
secrets = st.lists(secret_chars, min_size=1, max_size=30).map("".join)
surround = st.text(st.characters(codec="utf-8"), max_size=30)


@settings(max_examples=300, deadline=None)
@given(st.lists(secrets, min_size=1, max_size=3), st.lists(surround, min_size=1, max_size=4), st.data())
def test_no_fragment_survives(secret_list, around, data):
    inserted = [data.draw(st.sampled_from(pieces(s) or [s])) for s in secret_list]
    text = around[0]
    for i, piece in enumerate(inserted):
        text += piece + around[(i + 1) % len(around)]
    out = Redactor(secret_list)(text)
    for secret in secret_list:
        for piece in pieces(secret):
            assert piece not in out, (secret, piece, out)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text("abcdefghXYZ@:/ %", min_size=1, max_size=20), max_size=3),
       st.text("0123456789 .,-\n()[]", max_size=200))
def test_text_without_secrets_is_unchanged(secret_list, text):
    assert Redactor(secret_list)(text) == text


def test_a_secret_of_only_delimiters_masks_nothing():
    assert Redactor(["    ", "::::"])("a    b :::: c") == "a    b :::: c"


@settings(max_examples=200, deadline=None)
@given(st.sets(st.text("abc@%", min_size=1, max_size=6), min_size=1, max_size=8), st.text("abc@% ", max_size=60))
def test_prefix_tree_matches_like_a_longest_first_alternation(words, text):
    from cockpit.redact import _alternation

    flat = "|".join(map(re.escape, sorted(words, key=lambda w: (-len(w), w))))
    assert re.sub(_alternation(words), "*", text) == re.sub(flat, "*", text)


def test_secret_shapes_are_found_and_masked_quoted_ones_whole():
    for text, shape in [("password='a b c' x", "a password"), ('pwd: "q r" y', "a password"),
                        ("postgres://u:pw@db/ehr", "a password in a URL"),
                        ("Authorization: Bearer abcdefgh12345678", "a bearer token")]:
        assert find_secret(text) == shape
        masked = redact(text)
        assert find_secret(masked) is None and MASK in masked
    assert redact("password='a b c' x") == "*** x"  # nothing of a quoted passphrase is left
    for harmless in ("password=*** was redacted", "password='' is empty", "no secret here"):
        assert find_secret(harmless) is None and redact(harmless) == harmless


def test_redact_masks_known_values_in_values_and_shapes_everywhere():
    known = Redactor(["hunter22"])
    data = {"hunter22": ["pw hunter22", ("token=abcdefghijkl1234",)], "n": 3,
            "password=xyzzy": None}
    assert redact(data, known) == {"hunter22": ["pw ***", ["***"]], "n": 3, "***": None}
