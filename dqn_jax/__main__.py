"""``python -m dqn_jax``: train the default agent on CartPole-v1 and print its evaluation."""

from __future__ import annotations

import argparse
import time

import jax
import numpy as np

from dqn_jax.config import DQNConfig
from dqn_jax.evaluation import evaluate
from dqn_jax.train import make_train


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m dqn_jax", description="Train DQN with the default config, then evaluate."
    )
    parser.add_argument("--env", default=DQNConfig.env_name, help="gymnax environment id")
    parser.add_argument("--seed", type=int, default=0, help="PRNG seed")
    parser.add_argument("--episodes", type=int, default=100, help="greedy evaluation episodes")
    args = parser.parse_args(argv)
    try:
        config = DQNConfig(env_name=args.env)
    except ValueError as error:
        parser.error(str(error))

    print(f"Training DQN on {config.env_name} for {config.total_timesteps:,} env steps ...")
    start = time.perf_counter()
    result = jax.block_until_ready(jax.jit(make_train(config))(jax.random.key(args.seed)))
    seconds = time.perf_counter() - start
    metrics = jax.tree.map(np.asarray, result.metrics)
    for i in range(len(metrics.env_steps)):
        print(
            f"  env steps {metrics.env_steps[i]:>8,}"
            f"  episode return {metrics.episode_return[i]:7.1f}"
            f"  greedy eval {metrics.eval_return[i]:7.1f}  loss {metrics.loss[i]:8.4f}"
        )
    returns = np.asarray(
        evaluate(result.q_network, config, jax.random.key(args.seed + 1), args.episodes)
    )
    print(f"Trained in {seconds:.1f} s (compile included).")
    print(
        f"Final greedy evaluation over {args.episodes} episodes: mean {returns.mean():.1f}, "
        f"std {returns.std():.1f}, min {returns.min():.0f}, max {returns.max():.0f}"
    )


if __name__ == "__main__":
    main()
