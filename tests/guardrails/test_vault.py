"""The pseudonym vault: encrypted at rest, scoped by session, deletable, thread-safe."""

from __future__ import annotations

import stat
import threading

from readloom.guardrails.vault import KEY_FILE, Vault


def _disk_bytes(vault: Vault) -> bytes:
    files = [vault.path, vault.path.with_name(vault.path.name + "-wal")]
    return b"".join(p.read_bytes() for p in files if p.exists())


def test_values_are_encrypted_at_rest(vault):
    secrets = ["Maria Lopez", "555-201-8834", "jaylen.w2013@gmail.com", "42 Maple Street"]
    for i, value in enumerate(secrets):
        vault.pseudonym("s1", f"T{i}", value)
    raw = _disk_bytes(vault)
    assert raw  # the vault really wrote something
    for value in secrets:
        assert value.encode() not in raw
        assert value.lower().encode() not in raw
    assert vault.reveal("s1", "T0", 1) == "Maria Lopez"


def test_key_file_is_private(vault, settings):
    mode = stat.S_IMODE((settings.home / KEY_FILE).stat().st_mode)
    assert mode == 0o600


def test_a_new_vault_on_the_same_home_reads_old_values(settings, vault):
    token = vault.pseudonym("s1", "PERSON", "Priya").token
    other = Vault(settings)
    try:
        assert other.reidentify(f"hi {token}", "s1") == "hi Priya"
        assert other.pseudonym("s1", "PERSON", "priya").token == token
    finally:
        other.close()


def test_first_and_last_name_alone_find_the_full_name(vault):
    full = vault.pseudonym("s1", "PERSON", "Maria Lopez")
    assert vault.pseudonym("s1", "PERSON", "maria") == full
    assert vault.pseudonym("s1", "PERSON", "Lopez") == full


def test_forget_session_removes_only_that_session(vault):
    vault.pseudonym("a", "PERSON", "Jamal")
    vault.pseudonym("a", "PHONE", "555-201-8834")
    vault.pseudonym("b", "PERSON", "Jamal")
    assert vault.forget_session("a") == 2
    assert vault.count("a") == 0 and vault.reveal("a", "PERSON", 1) is None
    assert vault.reveal("b", "PERSON", 1) == "Jamal"


def test_forget_student_removes_every_linked_session(vault):
    for sid in ("t1", "t2"):
        vault.link_session(sid, "student-7")
        vault.pseudonym(sid, "PERSON", "Keisha")
    vault.link_session("t3", "student-8")
    vault.pseudonym("t3", "PERSON", "Omar")
    assert vault.sessions_of("student-7") == ["t1", "t2"]
    assert vault.forget_student("student-7") == 2
    assert vault.sessions_of("student-7") == []
    assert vault.reveal("t3", "PERSON", 1) == "Omar"
    assert b"student-7" not in _disk_bytes(vault)


def test_concurrent_allocation_is_consistent(vault):
    names = [f"Name{i}" for i in range(20)]
    results: dict[tuple[int, str], str] = {}
    lock = threading.Lock()

    def worker(n: int) -> None:
        for name in names:
            token = vault.pseudonym("busy", "PERSON", name).token
            with lock:
                results[(n, name)] = token

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    per_name = {name: {results[(n, name)] for n in range(4)} for name in names}
    assert all(len(tokens) == 1 for tokens in per_name.values())
    assert len({next(iter(t)) for t in per_name.values()}) == len(names)
    assert vault.count("busy") == len(names)
