"""Whole compiled programs on disk (``dqn_jax.storage.programs``): stored under a key of
everything that could change them, loaded without being built, checked against the arguments
they are called with, compiled again when unusable; prefetched by hint; and the train loop's
init and step loaded from them bit-identical to compiled ones."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import assert_bitwise

from dqn_jax.storage import compile_cache, programs
from dqn_jax.storage.programs import ProgramStore, load_or_compile, program_key
from dqn_jax.storage.runs import agent_hparams, agent_keys, train_intervals

ARGS = (jnp.arange(3.0), [jnp.ones(3), jnp.int32(2)])


def build():
    def add(x, pair):
        return [x + pair[0] * pair[1]], (x.sum(),)

    return add


def never():
    raise AssertionError("built, though stored")


def test_a_stored_program_loads_without_being_built(tmp_path):
    compiled = ProgramStore(tmp_path).get("add", build, ARGS, {"v": 1})
    (file,) = tmp_path.glob("add-*.bin")
    assert file.name == f"add-{program_key({'v': 1}, ARGS)[:40]}.bin"
    loaded = ProgramStore(tmp_path).get("add", never, ARGS, {"v": 1})
    expected = ([np.array([2.0, 3.0, 4.0])], (np.float32(3.0),))
    for program in (compiled, loaded):
        out = program(*ARGS)
        assert jax.tree.structure(out) == jax.tree.structure(expected)
        jax.tree.map(np.testing.assert_array_equal, out, expected)


def test_the_key_holds_the_description_the_shapes_dtypes_and_the_machine(tmp_path, monkeypatch):
    store = ProgramStore(tmp_path)
    store.get("add", build, ARGS, {"v": 1})
    calls = []

    def counted():
        calls.append(1)
        return build()

    store.get("add", counted, ARGS, {"v": 2})  # another description
    store.get("add", counted, (jnp.arange(4.0), [jnp.ones(4), jnp.int32(2)]), {"v": 1})
    store.get("add", counted, (jnp.arange(3), [jnp.ones(3, jnp.int32), jnp.int32(2)]), {"v": 1})
    assert len(calls) == 3 and len(list(tmp_path.glob("add-*.bin"))) == 4
    # values are not in the key
    values = (np.arange(3, dtype=np.float32), [np.full(3, 7, np.float32), np.int32(5)])
    assert program_key({"v": 1}, values) == program_key({"v": 1}, ARGS)
    machine = programs._machine()
    assert machine["source"] == programs._source_digest()
    assert machine["packages"]["jax"] == jax.__version__
    assert machine["devices"] == len(jax.devices()) and machine["backend"] == "cpu"
    for changed in ({"source": "edited"}, {"packages": {**machine["packages"], "jax": "0"}}):
        monkeypatch.setattr(programs, "_machine", lambda changed=changed: machine | changed)
        store.get("add", counted, ARGS, {"v": 1})
    assert len(calls) == 5


def test_the_source_digest_covers_every_module(tmp_path, monkeypatch):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "b.py").write_text("y = 2\n")
    monkeypatch.setattr(programs, "PACKAGE_DIR", package)
    digests = [programs._source_digest.__wrapped__()]
    (package / "sub" / "b.py").write_text("y = 3\n")
    digests.append(programs._source_digest.__wrapped__())
    (package / "sub" / "b.py").rename(package / "b.py")
    digests.append(programs._source_digest.__wrapped__())
    assert len(set(digests)) == 3


def test_an_unusable_file_is_compiled_again_and_replaced(tmp_path):
    ProgramStore(tmp_path).get("add", build, ARGS, {"v": 1})
    (file,) = tmp_path.glob("add-*.bin")
    file.write_bytes(b"not a program")
    with pytest.warns(UserWarning, match="compiling again: stored program .* unusable"):
        program = ProgramStore(tmp_path).get("add", build, ARGS, {"v": 1})
    np.testing.assert_array_equal(program(*ARGS)[0][0], [2.0, 3.0, 4.0])
    ProgramStore(tmp_path).get("add", never, ARGS, {"v": 1})  # the file was replaced


def test_a_program_is_checked_against_the_arguments_it_is_called_with(tmp_path):
    store = ProgramStore(tmp_path)
    store.get("add", build, ARGS, {"v": 1})
    (file,) = tmp_path.glob("add-*.bin")
    other = (jnp.arange(4.0), [jnp.ones(4), jnp.int32(2)])
    file.rename(tmp_path / f"add-{program_key({'v': 1}, other)[:40]}.bin")  # a wrong key
    with pytest.warns(UserWarning, match=r"an argument of \(4,\) float32"):
        program = store.get("add", build, other, {"v": 1})
    np.testing.assert_array_equal(program(*other)[0][0], [2.0, 3.0, 4.0, 5.0])


def test_prefetch_loads_what_the_hint_used_last_time(tmp_path, monkeypatch):
    first = ProgramStore(tmp_path)
    first.get("add", build, ARGS, {"v": 1})
    first.remember("the same flags")
    (hint,) = tmp_path.glob("hint-*.json")
    assert json.loads(hint.read_text()) == [f"add-{program_key({'v': 1}, ARGS)[:40]}.bin"]
    loads = []
    real_load = programs._load
    monkeypatch.setattr(programs, "_load", lambda path: loads.append(path) or real_load(path))
    second = ProgramStore(tmp_path)
    second.prefetch("other flags")  # no hint: nothing loads
    assert not second._loading
    second.prefetch("the same flags")
    assert len(second._loading) == 1
    program = second.get("add", never, ARGS, {"v": 1})
    assert not second._loading and len(loads) == 1  # the prefetched one, not loaded again
    np.testing.assert_array_equal(program(*ARGS)[0][0], [2.0, 3.0, 4.0])
    third = ProgramStore(tmp_path)
    third.prefetch("the same flags")
    third.get("add", build, ARGS, {"v": 2})  # the hint named another program: compiled
    assert len(third._loading) == 1  # the prefetched one is left unused


def test_remember_records_nothing_before_a_program_and_rewrites_nothing_unchanged(tmp_path):
    store = ProgramStore(tmp_path)
    store.remember("flags")
    assert not tmp_path.exists() or not list(tmp_path.iterdir())
    store.get("add", build, ARGS, {"v": 1})
    store.remember("flags")
    (hint,) = tmp_path.glob("hint-*.json")
    before = hint.stat().st_mtime_ns
    ProgramStore(tmp_path).get("add", never, ARGS, {"v": 1})
    again = ProgramStore(tmp_path)
    again.get("add", never, ARGS, {"v": 1})
    again.remember("flags")
    assert hint.stat().st_mtime_ns == before


def test_without_a_store_nothing_is_written(tmp_path):
    program = load_or_compile("add", build, ARGS, {"v": 1}, None)
    np.testing.assert_array_equal(program(*ARGS)[0][0], [2.0, 3.0, 4.0])
    assert load_or_compile("add", build, ARGS, {"v": 1}, tmp_path / "p") is not None
    assert len(list((tmp_path / "p").glob("add-*.bin"))) == 1


def test_the_loop_from_stored_programs_is_bit_identical(tiny_config, tmp_path, monkeypatch):
    """``train_intervals`` with a store: the first call compiles and stores init and step, a
    second one loads both (nothing is built for them) and ends bit-identical to it, as does a
    resume from a halfway checkpoint."""
    start = (agent_keys(0, 2), agent_hparams(tiny_config, 2))
    first = train_intervals(tiny_config, start, programs=tmp_path)
    assert sorted(p.name.split("-")[0] for p in tmp_path.glob("*.bin")) == ["init", "step"]
    built = []
    real_jit = jax.jit
    monkeypatch.setattr(
        jax,
        "jit",
        lambda f, *a, **k: built.append(getattr(f, "__name__", "")) or real_jit(f, *a, **k),
    )
    second = train_intervals(tiny_config, start, programs=tmp_path)
    half = train_intervals(tiny_config, start, stop=2, programs=tmp_path)
    resumed = train_intervals(tiny_config, half, programs=tmp_path)
    assert not {"init", "step"} & set(built)
    for result in (second, resumed):
        assert_bitwise((result.state, result.metrics), (first.state, first.metrics))


def test_a_program_to_store_is_compiled_afresh_not_taken_from_jax_cache(tmp_path):
    """An executable JAX loaded from its persistent cache serialises without some of its
    kernels on CPU (a later process fails with "Function wrapped_slice not found"), so the
    store compiles with JAX's cache off, even when that cache holds the program."""
    hits = []

    def listen(event, **kwargs):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    jax.monitoring.register_event_listener(listen)
    try:
        with compile_cache.compile_cache():  # JAX's settings restored after the block
            compile_cache.use_compile_cache(tmp_path / "jax")
            jax.jit(build()).lower(*ARGS).compile()  # now in JAX's cache
            jax.clear_caches()
            jax.jit(build()).lower(*ARGS).compile()
            assert len(hits) == 1  # the cache is on and holds the program
            ProgramStore(tmp_path / "programs").get("add", build, ARGS, {"v": 1})
            assert len(hits) == 1  # the store compiled afresh
            assert jax.config.jax_enable_compilation_cache  # and left the cache on
    finally:
        jax.monitoring.unregister_event_listener(listen)
