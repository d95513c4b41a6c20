"""Importing gymnax through dqn_jax: the render-only modules it imports are deferred, not lost."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from conftest import subprocess_env

CHILD = textwrap.dedent(
    """
    import sys

    import dqn_jax
    from dqn_jax.blocks.envs import DEFERRED_BY_GYMNAX

    spec = dqn_jax.make_env("CartPole-v1")
    assert spec.num_actions == 2
    # gymnax is imported, the modules it imports only to draw are not yet (nor what they pull in)
    assert "gymnax" in sys.modules
    assert "pandas" not in sys.modules and "scipy.stats" not in sys.modules, "seaborn was run"
    assert "matplotlib.backend_bases" not in sys.modules, "pyplot was run"
    assert "rich.segment" not in sys.modules, "rich.console was run"
    assert DEFERRED_BY_GYMNAX == (
        "seaborn", "matplotlib.pyplot", "rich.console", "rich.table", "rich.text"
    )  # fmt: skip

    # ... and each works at its first use, through every name it can be reached by
    import matplotlib
    import matplotlib.pyplot as plt
    import seaborn

    assert len(seaborn.color_palette("cubehelix", 3)) == 3
    figure = plt.figure()
    assert type(figure).__name__ == "Figure"
    assert matplotlib.pyplot.figure is plt.figure is sys.modules["matplotlib.pyplot"].figure
    assert type(sys.modules["seaborn"]).__name__ == "module"

    # gymnax's own renderers, which hold the stand-ins, reach the real modules
    import gymnax
    from gymnax.environments.misc import pong

    assert pong.sns.color_palette is seaborn.color_palette
    assert pong.plt.subplots is plt.subplots
    env, params = gymnax.make("Pong-misc")

    # as do flax's tables, which print with rich
    import flax.linen as nn
    import jax
    import rich.console

    assert rich.console.Console is sys.modules["rich.console"].Console
    table = nn.tabulate(nn.Dense(3), jax.random.key(0))(jax.numpy.ones((1, 2)))
    assert "Dense" in table
    print("ok")
    """
)


def test_gymnax_imports_without_running_its_plotting_modules_which_still_work():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, env=subprocess_env()
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
