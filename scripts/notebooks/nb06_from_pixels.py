"""Notebook 6: from pixels: MinAtar's image observations, a convolutional Q-network on one
observation written as pure functions, bit-packed replay, and DQN on Breakout-MinAtar."""

# ruff: noqa: E501 (cell sources are notebook text, wrapped for the notebook)

from _cells import check, code, exercise, md, uses

FILENAME = "06_from_pixels.ipynb"

INTRO = r"""
DQN became famous by learning Atari games from the screen (Mnih et al., 2015): 84x84 frames,
three convolutional layers, 50 million frames per game, days of GPU time. **MinAtar** (Young &
Tian, 2019) keeps five of those games' mechanics on a 10x10 grid, with one 0/1 **channel** per
kind of object, so the same questions can be asked on a laptop; `gymnax` implements the five
games in pure JAX, so a whole training run is still one XLA program.

1. look at a MinAtar **observation**: what its channels hold;
2. write a **convolutional Q-network for one observation** as small pure functions: a 3x3
   convolution as nine shifted slices and one `einsum`, checked against
   `jax.lax.conv_general_dilated`;
3. see why `jax.vmap` is all the batching the network needs;
4. **pack observations** 8 to a byte for the replay memory, and unpack them exactly;
5. train the library's DQN on **Breakout-MinAtar** with `DQNConfig.for_env` and plot its
   training returns.
"""

CELLS = [
    md(
        "# 6 · From pixels: DQN on MinAtar",
        INTRO,
        r"""
        Exercises are marked *Exercise*; run the check cell after each.
        """,
        solution=(
            "# 6 · From pixels: DQN on MinAtar (solutions)",
            INTRO,
            r"""
            This is the solved notebook, executed at full length; the homework version is
            `notebooks/06_from_pixels.ipynb`.
            """,
        ),
    ),
    code(
        """
        import os

        # DQN_JAX_FAST=1 (used by the test suite) shortens the runs to check that every cell works;
        # the text describes the full-length runs you get without it.
        FAST = os.environ.get("DQN_JAX_FAST") == "1"

        import math
        import textwrap
        import time
        from typing import NamedTuple

        import equinox as eqx
        import jax
        import jax.numpy as jnp
        import matplotlib.pyplot as plt
        import numpy as np

        import dqn_jax
        import dqn_jax.homework
        from dqn_jax.viz import render

        plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3})
        """
    ),
    md(
        r"""
        ## 1. A MinAtar observation

        A MinAtar observation is an array of shape $(10, 10, C)$: a 10x10 grid of cells and
        $C$ channels, one per kind of object, each cell of a channel 1 where such an object is
        and 0 elsewhere. Breakout-MinAtar has $C = 4$: the paddle, the ball, the ball's
        **trail** (the cell it was in one step before) and the bricks. The trail carries what a
        single frame cannot: which way the ball moves (Atari DQN stacked four frames for the
        same reason).

        Below, the observations of 64 random steps, run as one jitted `lax.scan`; one of them
        is shown channel by channel, then all channels at once, in the colours
        `dqn-jax render` draws a MinAtar episode in (a cell where several channels are on
        shows the highest one, as MinAtar's own renderer does).
        """
    ),
    code(
        """
        GAMES = ["Asterix-MinAtar", "Breakout-MinAtar", "Freeway-MinAtar", "Seaquest-MinAtar",
                 "SpaceInvaders-MinAtar"]
        spec = dqn_jax.make_env("Breakout-MinAtar")  # the gymnax env, checked for DQN


        def random_play(spec, key, steps):
            \"\"\"The observations of `steps` random actions (after automatic resets too).\"\"\"

            def step(carry, key):
                obs, state = carry
                act_key, step_key = jax.random.split(key)
                action = jax.random.randint(act_key, (), 0, spec.num_actions)
                next_obs, state, *_ = spec.env.step(step_key, state, action, spec.env_params)
                return (next_obs, state), spec.preprocess(obs)

            reset_key, key = jax.random.split(key)
            obs, state = spec.env.reset(reset_key, spec.env_params)
            return jax.lax.scan(step, (obs, state), jax.random.split(key, steps))[1]


        play = jax.jit(random_play, static_argnums=(0, 2))
        breakout = play(spec, jax.random.key(0), 64)  # (64, 10, 10, 4)
        obs = np.asarray(breakout[10])
        print(f"observation: shape {obs.shape}, dtype {obs.dtype}, values {np.unique(obs)}; "
              f"{spec.num_actions} actions (no-op, left, right)")
        names = render.CHANNEL_NAMES["Breakout-MinAtar"]
        print("cells on per channel:", dict(zip(names, obs.sum(axis=(0, 1)).astype(int).tolist(), strict=True)))

        fig, axes = plt.subplots(1, 5, figsize=(13, 2.9))
        for c, ax in enumerate(axes[:4]):
            ax.imshow(obs[:, :, c], cmap="gray", vmin=0, vmax=1)
            ax.set_title(f"channel {c}: {names[c]}", fontsize=9)
        axes[4].imshow(render.channel_image(obs))
        axes[4].set_title("all four, as dqn-jax render draws them", fontsize=9)
        for ax in axes:
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        plt.tight_layout()
        plt.show()
        """
    ),
    md(
        r"""
        ## 2. A convolution on one image

        A ball is a ball in any cell. A dense layer on the 400 inputs would have to learn what
        a ball next to its trail means separately at each of the 100 positions; a
        **convolution** applies the same small filter at every position, so what is learned
        in one place holds everywhere. One 3x3 convolution with $F$ filters over $C$ input
        channels computes, at every cell $(h, w)$,

        $$y_{h,w,f} = b_f + \sum_{i=0}^{2}\sum_{j=0}^{2}\sum_{c=0}^{C-1} \tilde x_{h+i,\,w+j,\,c}\; K_{i,j,c,f},$$

        where $\tilde x$ is the image with one row and column of zeros added on **each** side,
        so that the output keeps the input's $10 \times 10$ ("SAME" padding; without it the
        output would be $8 \times 8$, "VALID"). The kernel $K$ has shape $(3, 3, C, F)$ and the
        bias $b$ shape $(F,)$. (Deep learning's "convolution" is a cross-correlation: tap
        $(i, j)$ meets $\tilde x_{h+i, w+j}$, the kernel is not flipped.)

        **Shifted slices.** For each tap $(i, j)$, `padded[i : i + H, j : j + W]` is an
        $(H, W, C)$ array whose entry $(h, w)$ is $\tilde x_{h+i,\,w+j}$: the image as tap
        $(i, j)$ sees it. Concatenating the nine slices on the channel axis gives the
        **patches**, shape $(H, W, 9C)$, ordered $(i, j, c)$: exactly the order of
        `kernel.reshape(9 * C, F)`. The whole convolution is then one matrix product per cell,

        ```python
        jnp.einsum("hwp,pf->hwf", patches, kernel.reshape(9 * C, F)) + bias
        ```

        On a CPU this is also the fast way: XLA turns it into one large matrix multiply, while
        its own convolution's gradients are slow there (jax issue 12868). The library's
        `ConvQNetwork` is written this way, and its TD update runs about 3.5 times as many
        updates per second as with `lax.conv` (the repository's BENCHMARKS.md).

        **Exercise 1.** Write `conv3x3_same` for ONE image. Take every size from the shapes
        (`x.shape`, `kernel.shape`): the check also runs it on images of another size.
        """
    ),
    exercise(
        '''
        def conv3x3_same(x, kernel, bias):
            """A 3x3 convolution of one image, stride 1, SAME zero padding, channels last.

            Args:
                x: the image, shape (height, width, c_in).
                kernel: the filters, shape (3, 3, c_in, c_out).
                bias: shape (c_out,).

            Returns:
                y of shape (height, width, c_out):
                y[h, w, o] = bias[o] + sum_{i, j, c} x_pad[h + i, w + j, c] * kernel[i, j, c, o].
            """
        ''',
        """
        height, width, c_in = x.shape
        padded = jnp.pad(x, ((1, 1), (1, 1), (0, 0)))
        # (height, width, 9 * c_in), ordered (i, j, c) like the kernel's first three axes
        patches = jnp.concatenate(
            [padded[i : i + height, j : j + width] for i in range(3) for j in range(3)], axis=-1
        )
        return jnp.einsum("hwp,po->hwo", patches, kernel.reshape(9 * c_in, -1)) + bias
        """,
        """
        pad, take the nine shifted slices, concatenate them into the patches,
        then one einsum with the reshaped kernel, plus the bias
        """,
    ),
    check("dqn_jax.homework.check_conv3x3_same(conv3x3_same)"),
    md(
        r"""
        ### What a filter can see

        A hand-made example of what a learned filter can do. A filter that is $+1$ on the
        **ball** channel at its centre and $+1$ on the **trail** channel at the tap one step
        back along a direction, with bias $-1.5$, gives $0.5$ after a ReLU exactly where a
        ball moving that way is, and 0 everywhere else. Eight such filters, one per direction,
        read the ball's motion off one observation; a trained network finds filters like
        these by itself.
        """
    ),
    uses(
        """
        MOVES = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1),
                 "up-left": (-1, -1), "up-right": (-1, 1), "down-left": (1, -1), "down-right": (1, 1)}
        motion = np.zeros((3, 3, 4, len(MOVES)), np.float32)  # (tap i, tap j, channel, filter)
        for f, (dy, dx) in enumerate(MOVES.values()):
            motion[1, 1, 1, f] = 1.0  # the ball, at the centre
            motion[1 - dy, 1 - dx, 2, f] = 1.0  # its trail, one step back
        bias = jnp.full(len(MOVES), -1.5)
        detected = jax.nn.relu(conv3x3_same(jnp.asarray(obs), jnp.asarray(motion), bias))
        print("the ball is at", np.argwhere(obs[:, :, 1])[0], "and its trail at", np.argwhere(obs[:, :, 2])[0])
        for f, name in enumerate(MOVES):
            for h, w in np.argwhere(np.asarray(detected[:, :, f]) > 0):
                print(f"the filter for a ball moving {name} fires at cell ({h}, {w})")

        reference = jax.lax.conv_general_dilated(
            jnp.asarray(obs)[None], jnp.asarray(motion), (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )[0] + bias
        print("largest difference from lax.conv_general_dilated:",
              float(jnp.max(jnp.abs(reference - conv3x3_same(jnp.asarray(obs), jnp.asarray(motion), bias)))))
        """
    ),
    md(
        r"""
        ## 3. A Q-network on one observation

        The MinAtar paper's network: one 3x3 convolution with 16 filters and a ReLU, the
        $10 \times 10 \times 16$ feature map flattened into 1,600 numbers, a dense layer of 128
        units with a ReLU, and a linear output of one Q-value per action. Its parameters are a
        `NamedTuple` of arrays, a pytree, so JAX can differentiate and `vmap` through it.
        """
    ),
    code(
        """
        class ConvParams(NamedTuple):
            kernel: jax.Array  # (3, 3, channels, filters)
            bias: jax.Array  # (filters,)
            w1: jax.Array  # (height * width * filters, hidden)
            b1: jax.Array  # (hidden,)
            w2: jax.Array  # (hidden, num_actions)
            b2: jax.Array  # (num_actions,)


        def init_conv_params(key, obs_shape, num_actions, filters=16, hidden=128):
            \"\"\"Uniform in +-1/sqrt(fan_in) for every layer (Equinox's and PyTorch's default).\"\"\"
            height, width, channels = obs_shape
            shapes = [(3, 3, channels, filters), (filters,), (height * width * filters, hidden),
                      (hidden,), (hidden, num_actions), (num_actions,)]
            fan_ins = [9 * channels, 9 * channels, height * width * filters, height * width * filters,
                       hidden, hidden]
            keys = jax.random.split(key, len(shapes))
            return ConvParams(*(jax.random.uniform(k, s, minval=-1, maxval=1) / math.sqrt(n)
                                for k, s, n in zip(keys, shapes, fan_ins, strict=True)))
        """
    ),
    md(
        r"""
        **Exercise 2.** Write `conv_q_values` for ONE observation: your `conv3x3_same`, a
        ReLU, the map flattened as it is (`.reshape(-1)`), the hidden layer with its ReLU and
        the linear output.
        """
    ),
    exercise(
        '''
        def conv_q_values(params, obs):
            """Q-values of one observation.

            Args:
                params: a ConvParams.
                obs: one observation, shape (height, width, channels).

            Returns:
                Q of shape (num_actions,): relu(conv(obs)) flattened, relu(. @ w1 + b1), . @ w2 + b2.
            """
        ''',
        """
        features = jax.nn.relu(conv3x3_same(obs, params.kernel, params.bias))
        hidden = jax.nn.relu(features.reshape(-1) @ params.w1 + params.b1)
        return hidden @ params.w2 + params.b2
        """,
        """
        conv3x3_same with params.kernel and params.bias, then jax.nn.relu
        flatten with .reshape(-1): (height * width * filters,)
        a ReLU hidden layer, then the linear output layer
        """,
    ),
    check("dqn_jax.homework.check_conv_q_values(conv_q_values)"),
    md(
        r"""
        ### Why `vmap` over the batch

        `conv_q_values` is written for one observation: the way the environment hands them
        out, the way the equations read, and what acting needs. Learning needs it for a
        minibatch (32 observations, and 32 next observations for the target).
        `jax.vmap(conv_q_values, in_axes=(None, 0))` is that function: it adds a batch axis to
        every operation inside (the slices become $(B, H, W, C)$, the `einsum` one larger
        matrix product), while `in_axes=None` shares the parameters. No batch bookkeeping in
        our code, one function for acting and learning, and a single compiled program.
        A Python loop over the batch gives the same numbers, as 32 separate calls.
        """
    ),
    uses(
        """
        params = init_conv_params(jax.random.key(1), spec.obs_shape, spec.num_actions)
        batch = breakout[:32]
        batched_q = jax.jit(jax.vmap(conv_q_values, in_axes=(None, 0)))
        one_q = jax.jit(conv_q_values)
        q_batch = batched_q(params, batch)
        q_loop = jnp.stack([one_q(params, o) for o in batch])
        print("vmapped:", q_batch.shape, " loop:", q_loop.shape,
              " largest difference:", float(jnp.max(jnp.abs(q_batch - q_loop))))


        def timed(fn, repeats=3 if FAST else 20):
            jax.block_until_ready(fn())
            start = time.perf_counter()
            for _ in range(repeats):
                jax.block_until_ready(fn())
            return (time.perf_counter() - start) / repeats * 1e3


        print(f"one vmapped call: {timed(lambda: batched_q(params, batch)):.2f} ms; "
              f"a loop of 32 calls: {timed(lambda: [one_q(params, o) for o in batch]):.2f} ms")
        """
    ),
    md(
        r"""
        The library's `dqn_jax.ConvQNetwork` is this network as an Equinox module, called on
        one observation like your function, with the same slices-and-`einsum` convolution.
        Given your parameters (Equinox's dense layers store their weights transposed,
        `(out, in)`), it computes the same Q-values:
        """
    ),
    uses(
        """
        net = dqn_jax.ConvQNetwork(spec.obs_shape, spec.num_actions, channels=(16,), kernel_size=3,
                                   hidden_sizes=(128,), key=jax.random.key(2))
        net = eqx.tree_at(
            lambda n: (n.kernels, n.biases, n.head.layers[0].weight, n.head.layers[0].bias,
                       n.head.layers[1].weight, n.head.layers[1].bias),
            net,
            ((params.kernel,), (params.bias,), params.w1.T, params.b1, params.w2.T, params.b2),
        )
        q_library = jax.jit(jax.vmap(net))(batch)
        print("ConvQNetwork vs conv_q_values, largest difference:", float(jnp.max(jnp.abs(q_library - q_batch))))
        """
    ),
    md(
        r"""
        ## 4. Packing observations for the replay memory

        A replay memory keeps every transition's observation and next observation. As float32,
        a Seaquest-MinAtar observation $(10, 10, 10)$ takes 4,000 bytes, so a transition 8,000
        and the paper's replay of 100,000 transitions 800 MB, for **one** agent; a sweep of 30
        agents would need 24 GB. Yet every value is 0 or 1: one bit. `jnp.packbits` packs 8
        booleans into a byte (the first element in the highest bit) and `jnp.unpackbits`
        unpacks them: 125 bytes per Seaquest observation, 32 times less. The replay stores the
        packed bytes, and the update unpacks the sampled minibatch inside the same compiled
        step, which costs little next to the network.

        **Exercise 3.** Write `pack_observation` for ONE observation. `jnp.packbits` takes
        integers or booleans, not float32, and packs its input flattened unless given an
        `axis`.
        """
    ),
    exercise(
        '''
        def pack_observation(obs):
            """One observation of 0/1 values packed 8 to a byte.

            Args:
                obs: float32 of shape obs_shape, every value 0 or 1.

            Returns:
                uint8 of shape (ceil(obs.size / 8),): bit k of the flattened obs in byte k // 8,
                the first element in the highest bit (jnp.packbits' default).
            """
        ''',
        """
        return jnp.packbits(obs.reshape(-1) != 0)
        """,
        """
        flatten, make booleans (obs != 0), jnp.packbits
        """,
    ),
    check("dqn_jax.homework.check_pack_observation(pack_observation)"),
    md(
        r"""
        **Exercise 4.** Write `unpack_observation`, its inverse. A Freeway-MinAtar observation
        $(10, 10, 7)$ has 700 values, packed into 88 bytes; `jnp.unpackbits` returns 8 bits for
        every byte, 704, of which the last 4 are padding: its `count` argument keeps the first
        `count`. `obs_shape` is a Python tuple, so `math.prod(obs_shape)` is a Python int, as
        sizes must be under `jit`.
        """
    ),
    exercise(
        '''
        def unpack_observation(packed, obs_shape):
            """The inverse of pack_observation.

            Args:
                packed: uint8 of shape (ceil(prod(obs_shape) / 8),).
                obs_shape: the observation's shape, a tuple of Python ints.

            Returns:
                The float32 observation of shape obs_shape.
            """
        ''',
        """
        bits = jnp.unpackbits(packed, count=math.prod(obs_shape))
        return bits.astype(jnp.float32).reshape(obs_shape)
        """,
        """
        jnp.unpackbits with count=math.prod(obs_shape), to float32, reshape to obs_shape
        """,
    ),
    check("dqn_jax.homework.check_unpack_observation(unpack_observation)"),
    md(
        r"""
        The round trip on real observations of all five games (the first observations of 64
        episodes each), and what one transition (observation and next observation) takes in
        each storage:
        """
    ),
    uses(
        """
        print(f"{'game':22s} {'obs shape':>12s} {'exact':>6s} {'float32 B':>10s} {'uint8 B':>8s} {'packed B':>9s}")
        for game in GAMES[:2] if FAST else GAMES:  # fast mode: two games are enough to check
            game_spec = dqn_jax.make_env(game)
            reset = jax.vmap(game_spec.env.reset, in_axes=(0, None))
            observations = jax.jit(reset)(jax.random.split(jax.random.key(3), 64), game_spec.env_params)[0]
            packed = jax.jit(jax.vmap(pack_observation))(observations)
            back = jax.jit(jax.vmap(lambda p, shape=game_spec.obs_shape: unpack_observation(p, shape)))(packed)
            exact = bool(jnp.array_equal(back, observations))
            size = math.prod(game_spec.obs_shape)
            print(f"{game:22s} {game_spec.obs_shape!s:>12s} {exact!s:>6s} {2 * 4 * size:>10,d} "
                  f"{2 * size:>8,d} {2 * packed.shape[1]:>9,d}")

        config = dqn_jax.DQNConfig.for_env("Seaquest-MinAtar")
        print(f"\\nthe library's Seaquest agent (replay of {config.buffer_size:,} transitions, networks, "
              f"optimizer): {dqn_jax.bytes_per_agent(config) / 2**20:.0f} MiB, its replay bit-packed")
        """
    ),
    md(
        r"""
        Every game's observations come back exactly, and the packed replay is 32 times smaller
        than float32 (8 times smaller than one byte per value).

        ## 5. DQN on Breakout-MinAtar

        The library's training loop does all of the above: for an image observation
        (`network="auto"`) it builds a `ConvQNetwork`, and for MinAtar's 0/1 channels it
        stores the replay bit-packed and unpacks each sampled minibatch inside the update.
        `DQNConfig.for_env("Breakout-MinAtar")` starts from the settings tuned for the MinAtar
        games (`dqn_jax/tuned.py`): the paper's network, a replay of 100,000, minibatches of
        32, a hard target update every 1,000 env steps, epsilon from 1 to 0.1 over 100,000
        steps, for 1,000,000 steps; for Breakout, 3-step returns and the squared TD error. Here we train 100,000 env steps (1,024 with
        `DQN_JAX_FAST=1`), with epsilon decaying over the first 50,000, for 3 seeds in one
        vmapped program, and plot the **training returns**: the mean return of the episodes
        each agent finished, exploring, in every interval of 5,000 env steps, as the MinAtar
        paper reports them.
        """
    ),
    code(
        """
        NUM_SEEDS = 2 if FAST else 3
        tuned = dqn_jax.tuned.tuned_settings("Breakout-MinAtar")
        print(textwrap.fill("tuned for Breakout-MinAtar: " + ", ".join(f"{k}={v}" for k, v in tuned.items()), 100))
        config = dqn_jax.DQNConfig.for_env(
            "Breakout-MinAtar",
            total_timesteps=1_024 if FAST else 100_000,
            epsilon_decay_steps=512 if FAST else 50_000,
            learning_starts=256 if FAST else 5_000,
            log_interval=128 if FAST else 5_000,
            eval_episodes=0,  # the greedy evaluation comes after training, below
        )
        train = jax.jit(jax.vmap(dqn_jax.make_train(config)))
        start = time.perf_counter()
        results = jax.block_until_ready(train(jax.random.split(jax.random.key(0), NUM_SEEDS)))
        seconds = time.perf_counter() - start
        print(f"\\n{NUM_SEEDS} seeds x {config.total_timesteps:,} env steps in {seconds:.0f} s, compile included "
              f"({NUM_SEEDS * config.total_timesteps / seconds:,.0f} env steps/s)")
        storage = results.state.replay.storage
        print(f"network: {type(results.q_network).__name__}; replay observations stored as "
              f"{storage.obs.dtype}, shape {storage.obs.shape[1:]} per seed")

        steps = np.asarray(results.metrics.env_steps[0])
        returns = np.asarray(results.metrics.episode_return)  # (seeds, logging points)
        fig, ax = plt.subplots(figsize=(7, 3.6))
        ax.plot(steps, returns.T, color="C0", alpha=0.35, lw=1)
        ax.plot(steps, returns.mean(0), color="C0", lw=2, label=f"mean of {NUM_SEEDS} seeds")
        ax.axhline(returns[:, 0].mean(), color="k", ls="--", lw=1, label="first interval: random play")
        ax.set(xlabel="env steps", ylabel="training return (exploring)", title="DQN on Breakout-MinAtar")
        ax.legend(fontsize=8)
        plt.show()
        print("training return at the last interval, per seed:", np.round(returns[:, -1], 2))
        """
    ),
    md(
        r"""
        The first interval is random play (epsilon is still near 1 and learning has not
        started): about 0.4 per episode. The training return then rises while epsilon falls
        and the agents learn to keep the ball in play, to between 5 and 8 per seed by
        100,000 steps (epsilon has been 0.1 since 50,000). For scale, the
        MinAtar paper's DQN reached about 9 on Breakout after 1 million frames and about 10
        after 5 million (training returns read from its published curves); the tuned settings
        (`DQNConfig.for_env("Breakout-MinAtar")`) train for 1 million steps.

        Training returns include exploration: one action in ten is random, and one bad move
        can lose the ball. The **greedy** policy of each final network (`dqn_jax.evaluate`,
        epsilon 0, 20 episodes each) does better:
        """
    ),
    code(
        """
        EPISODES = 2 if FAST else 20
        for seed in range(NUM_SEEDS):
            network = jax.tree.map(lambda x, i=seed: x[i], results.q_network)
            greedy = np.asarray(dqn_jax.evaluate(network, config, jax.random.key(10 + seed), EPISODES))
            print(f"seed {seed}: greedy return over {EPISODES} episodes: mean {greedy.mean():.1f}, "
                  f"min {greedy.min():.0f}, max {greedy.max():.0f}")
        """
    ),
    md(
        r"""
        Each seed's greedy return is above its last training return (about 7 to 10 against
        5 to 8). Each agent scores (nearly) the same in every episode: gymnax's
        Breakout-MinAtar has no randomness besides the ball's starting side, left or right, so
        without sticky actions a greedy agent plays one of two games over and over
        (`sticky_action_prob=0.1`, as in the MinAtar paper, makes every episode different).

        ### Watching it play

        `dqn_jax.viz.render.play_episode` plays one greedy episode in one jitted scan and
        returns its observations; below, a few of them in `dqn-jax render`'s colours. On
        the command line, `dqn-jax train --env-name Breakout-MinAtar --out runs/breakout`
        trains the tuned settings and `dqn-jax render runs/breakout` writes the whole episode
        as an animated GIF.
        """
    ),
    code(
        """
        network = jax.tree.map(lambda x: x[0], results.q_network)
        observations, rewards = render.play_episode(network, config, jax.random.key(20))
        print(f"a greedy episode of seed 0: {len(rewards)} steps, return {rewards.sum():.0f}")
        shown = np.linspace(0, len(observations) - 1, 8).astype(int)
        fig, axes = plt.subplots(1, 8, figsize=(14, 2.2))
        for ax, t in zip(axes, shown, strict=True):
            ax.imshow(render.channel_image(observations[t]))
            ax.set_title(f"step {t}, return {rewards[:t].sum():.0f}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        plt.tight_layout()
        plt.show()
        """
    ),
    md(
        r"""
        ## Summary

        * A MinAtar observation is a $10 \times 10 \times C$ grid of 0/1 channels, one per
          kind of object; a trail channel shows motion that one frame would not.
        * A convolution applies one small filter at every cell; as nine shifted slices of the
          padded image and one `einsum`, it is a few lines of JAX and fast on a CPU.
        * Write the network for **one** observation and let `jax.vmap` add the batch.
        * 0/1 observations pack 8 to a byte: the replay shrinks 32-fold against float32, and
          `jnp.unpackbits` recovers it exactly inside the update.
        * `dqn_jax.DQNConfig.for_env(game)` trains all of it on the MinAtar games;
          `dqn-jax render` draws their episodes.
        """
    ),
]
