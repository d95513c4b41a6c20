"""What a person looks at (needs ``pip install "dqn-jax[plot]"`` for the figures).

- ``stats``: the Student-t quantile behind 95% confidence bands
- ``plotting``: learning curves of saved runs, mean and 95% CI over seeds
- ``render``: an animated GIF of one greedy episode (CartPole-v1, or images of 0/1 channels)
"""
