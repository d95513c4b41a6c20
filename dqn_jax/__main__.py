"""``python -m dqn_jax``: the ``dqn-jax`` command line; with no arguments it trains the default
agent on CartPole-v1 and prints its evaluation (see ``dqn_jax.cli``)."""

from dqn_jax.cli import main

if __name__ == "__main__":
    main()
