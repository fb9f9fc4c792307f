"""Trust list parsing and the atomic on-disk store."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from station.files import atomic_write
from station.trust import TrustError, TrustList, load_trust_file, trust_entry


def test_a_key_whose_spki_does_not_hash_to_its_kid_is_ignored_with_a_warning(
        spec_key: Any, caplog: pytest.LogCaptureFixture) -> None:
    entry = trust_entry(spec_key.public_key(), "500118")
    entry["kid"] = "AAAAAAAAAAA="
    trust = TrustList.from_document({"keys": [entry]})
    assert trust.keys == ()
    assert "does not match" in caplog.text


@pytest.mark.parametrize(("document", "field"), [
    ([], "must be a JSON object"),
    ({"keys": {}}, "keys must be a list"),
    ({"keys": [{"kid": "x", "alg": "RS256", "spki": "x"}]}, "keys[0].alg"),
    ({"keys": [{"kid": "!!", "alg": "EdDSA", "spki": "x"}]}, "keys[0].kid"),
    ({"keys": [{"kid": "AAAAAAAAAAA=", "alg": "EdDSA", "spki": "AAAA"}]}, "keys[0].spki"),
    ({"keys": [{"alg": "EdDSA", "spki": "AAAA"}]}, "keys[0].kid"),
    ({"revocations": [{"sub": "W1", "before": "yesterday"}]}, "revocations[0].before"),
    ({"revocations": [{"before": 1}]}, "revocations[0].sub"),
    ({"keys": [], "extra": 1}, "unknown field 'extra'"),
])
def test_bad_documents_name_the_field(document: Any, field: str) -> None:
    with pytest.raises(TrustError) as info:
        TrustList.from_document(document, "trust list")
    assert str(info.value).startswith("trust list: ")
    assert field in str(info.value)


def test_bad_validity_times_are_errors(spec_key: Any) -> None:
    entry = trust_entry(spec_key.public_key(), "500118", not_before="2021-01-01")
    with pytest.raises(TrustError, match=r"not_before.*no UTC offset"):
        TrustList.from_document({"keys": [entry]})


def test_the_latest_revocation_for_a_subject_wins() -> None:
    trust = TrustList.from_document({"revocations": [{"sub": "W1", "before": 5},
                                                     {"sub": "W1", "before": 9}]})
    assert trust.revoked_before("W1") == 9
    assert trust.revoked_before("W2") is None


def test_a_failed_write_leaves_the_old_file_whole(tmp_path: Path, monkeypatch: Any) -> None:
    path = tmp_path / "trust.json"
    atomic_write(path, b"old")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        atomic_write(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["trust.json"]


def test_a_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "trust.json"
    path.write_text("{not json")
    with pytest.raises(TrustError, match=r"trust\.json: not valid JSON"):
        load_trust_file(path)
