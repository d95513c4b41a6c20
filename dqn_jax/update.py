"""The optimiser and the jitted TD update of the online network."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Float, PyTree

from dqn_jax.replay import Transition
from dqn_jax.value_learning import double_q_learning_target, q_learning_target, td_loss

if TYPE_CHECKING:
    from dqn_jax.config import DQNConfig, HParams


class QParams(NamedTuple):
    """Online and target parameters: two pytrees of the same structure, the array part of
    ``eqx.partition(q_network, eqx.is_array)``."""

    online: PyTree
    target: PyTree


class UpdateInfo(NamedTuple):
    """Statistics of one TD update."""

    loss: Float[Array, ""]
    q_mean: Float[Array, ""]  # mean Q(s, a) of the batch's actions, before the update
    grad_norm: Float[Array, ""]  # global norm of the gradient, before clipping
    td_error: Float[Array, " batch"]  # y - Q(s, a) per transition


def make_optimizer(config: DQNConfig, hparams: HParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; with ``config.lr_decay`` the learning rate falls linearly
    to 0 over the run's ``config.num_updates`` gradient steps.

    The hyper-parameters may be traced: build the optimiser inside the jitted function.
    """
    if config.lr_decay:

        def learning_rate(count: Array) -> Array:
            return hparams.learning_rate * jnp.maximum(0.0, 1.0 - count / config.num_updates)

    else:
        learning_rate = hparams.learning_rate
    return optax.chain(
        optax.clip_by_global_norm(hparams.max_grad_norm),
        optax.adam(learning_rate),
    )


def _loss(
    online_params: PyTree,
    target_params: PyTree,
    q_static: PyTree,
    batch: Transition,
    hparams: HParams,
    config: DQNConfig,
) -> tuple[Float[Array, ""], tuple[Float[Array, " batch"], Float[Array, " batch"]]]:
    online = eqx.combine(online_params, q_static)
    target = eqx.combine(target_params, q_static)
    batch_size = batch.reward.shape[0]
    if config.double:
        # One pass of the online net over obs and next_obs; only the obs half is differentiated.
        q_both = jax.vmap(online)(jnp.concatenate([batch.obs, batch.next_obs]))
        q_tm1, q_t_selector = q_both[:batch_size], jax.lax.stop_gradient(q_both[batch_size:])
    else:
        q_tm1 = jax.vmap(online)(batch.obs)
    q_t = jax.lax.stop_gradient(jax.vmap(target)(batch.next_obs))
    discount_t = hparams.gamma * (1.0 - batch.terminated)
    if config.double:
        y = jax.vmap(double_q_learning_target)(batch.reward, discount_t, q_t, q_t_selector)
    else:
        y = jax.vmap(q_learning_target)(batch.reward, discount_t, q_t)
    q_a = jnp.take_along_axis(q_tm1, batch.action[:, None], axis=-1)[:, 0]
    td_error = jax.lax.stop_gradient(y) - q_a
    loss = jnp.mean(td_loss(td_error, config.loss, hparams.huber_delta))
    return loss, (td_error, q_a)


@eqx.filter_jit
def td_update(
    params: QParams,
    opt_state: optax.OptState,
    batch: Transition,
    hparams: HParams,
    *,
    q_static: PyTree,
    config: DQNConfig,
) -> tuple[QParams, optax.OptState, UpdateInfo]:
    """One gradient step on the TD loss of a batch.

    ``loss = mean_i L(y_i - Q_online(s_i, a_i))`` with ``y_i`` the (Double) Q-learning target of
    transition ``i`` computed with the target parameters; the gradient flows only into the online
    parameters, the target is a constant.

    Args:
        params: online and target parameters.
        opt_state: the optimiser state of ``make_optimizer(config, hparams)``.
        batch: transitions with leading axis ``batch_size``.
        hparams: the traced hyper-parameters (gamma, learning rate, Huber delta, clipping).
        q_static: the non-array part of the Q-network (``eqx.partition``).
        config: the static configuration (loss kind, Double DQN, lr decay).

    Returns:
        The new parameters (target unchanged), the new optimiser state and the update's statistics.
    """
    grad_fn = jax.value_and_grad(_loss, has_aux=True)
    (loss, (td_error, q_a)), grads = grad_fn(
        params.online, params.target, q_static, batch, hparams, config
    )
    optimizer = make_optimizer(config, hparams)
    updates, opt_state = optimizer.update(grads, opt_state, params.online)
    online = optax.apply_updates(params.online, updates)
    info = UpdateInfo(loss, jnp.mean(q_a), optax.tree.norm(grads), td_error)
    return QParams(online, params.target), opt_state, info
