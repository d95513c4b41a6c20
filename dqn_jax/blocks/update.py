"""The optimiser and the jitted TD update of the online network."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jaxtyping import Array, Bool, Float, Int, PyTree

from dqn_jax.blocks.replay import Transition
from dqn_jax.blocks.schedules import learning_rate_scale
from dqn_jax.blocks.value_learning import (
    double_q_learning_target,
    n_step_return,
    q_learning_target,
    td_loss,
)

if TYPE_CHECKING:
    from dqn_jax.config import DQNConfig, HParams


class QParams(NamedTuple):
    """Online and target parameters: two pytrees of the same structure, the array part of
    ``eqx.partition(q_network, eqx.is_array)``."""

    online: PyTree
    target: PyTree


class Batch(NamedTuple):
    """What a TD update learns from (leading axis ``batch``): for one-step DQN a transition with
    ``discount = gamma * (1 - terminated)``; for n-step the summed return and ``gamma^m``."""

    obs: Float[Array, "*batch obs_dim"]
    action: Int[Array, "*batch"]
    reward: Float[Array, "*batch"]  # r_t, or the n-step return
    discount: Float[Array, "*batch"]  # bootstrap discount: 0 after a termination
    next_obs: Float[Array, "*batch obs_dim"]  # observation to bootstrap from


def batch_from_sequence(sequence: Transition, gamma: Float[Array, ""] | float) -> Batch:
    """The (n-step) learning sample of one sequence of ``n`` consecutive steps of one env
    (leaves with leading axis ``n``; see ``replay.sample_sequences`` and ``n_step_return``)."""
    ret, discount, last = n_step_return(
        sequence.reward, sequence.terminated, sequence.truncated, gamma
    )
    return Batch(
        obs=sequence.obs[0],
        action=sequence.action[0],
        reward=ret,
        discount=discount,
        next_obs=sequence.next_obs[last],
    )


class UpdateInfo(NamedTuple):
    """Statistics of one TD update."""

    loss: Float[Array, ""]
    q_mean: Float[Array, ""]  # mean Q(s, a) of the batch's actions, before the update
    grad_norm: Float[Array, ""]  # global norm of the gradient, before clipping
    td_error: Float[Array, " batch"]  # y - Q(s, a) per transition
    applied: Bool[Array, ""]  # the step was taken (see ``td_update``)


def make_optimizer(config: DQNConfig, hparams: HParams) -> optax.GradientTransformation:
    """Global-norm clipping then Adam; with ``config.lr_decay`` the learning rate falls linearly
    to 0 over the run's ``config.num_updates`` gradient steps (for an extended run, from its
    value at the extension to 0 at the new end: ``dqn_jax.blocks.schedules``).

    The hyper-parameters may be traced: build the optimiser inside the jitted function.
    """
    if config.lr_decay:

        def learning_rate(count: Array) -> Array:
            return hparams.learning_rate * learning_rate_scale(config, count)

    else:
        learning_rate = hparams.learning_rate
    return optax.chain(clip_by_global_norm(hparams.max_grad_norm), optax.adam(learning_rate))


def clip_by_global_norm(max_norm: Float[Array, ""] | float) -> optax.GradientTransformation:
    """``optax.clip_by_global_norm`` as one scalar factor: ``g <- g * min(1, max_norm / ||g||)``
    over the whole gradient pytree (the same values to rounding, and the same empty state).

    Why not optax's own: it divides every element by the norm, and XLA (on CPU) will not
    repeat a division inside each of Adam's loops that reads the gradient, so the clipped
    gradient is first written out in full. A scalar factor fuses into those loops instead.
    """

    def update_fn(updates: PyTree, state: optax.EmptyState, params: PyTree = None):
        del params
        norm = optax.tree.norm(updates)
        scale = jnp.where(norm < max_norm, 1.0, max_norm / norm)
        return jax.tree.map(lambda g: g * scale.astype(g.dtype), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def _loss(
    online_params: PyTree,
    target_params: PyTree,
    q_static: PyTree,
    batch: Batch,
    weight: Float[Array, " batch"] | None,
    hparams: HParams,
    config: DQNConfig,
) -> tuple[Float[Array, ""], tuple[Float[Array, " batch"], Float[Array, " batch"]]]:
    online = eqx.combine(online_params, q_static)
    target = eqx.combine(target_params, q_static)
    q_tm1 = jax.vmap(online)(batch.obs)
    if config.double:
        # A separate pass with constant parameters: running obs and next_obs as one batch would
        # make the backward pass run over both halves (measured 1.4x slower per update).
        constant_online = eqx.combine(jax.lax.stop_gradient(online_params), q_static)
        q_t_selector = jax.vmap(constant_online)(batch.next_obs)
    q_t = jax.lax.stop_gradient(jax.vmap(target)(batch.next_obs))
    if config.double:
        y = jax.vmap(double_q_learning_target)(batch.reward, batch.discount, q_t, q_t_selector)
    else:
        y = jax.vmap(q_learning_target)(batch.reward, batch.discount, q_t)
    q_a = jnp.take_along_axis(q_tm1, batch.action[:, None], axis=-1)[:, 0]
    td_error = jax.lax.stop_gradient(y) - q_a
    per_sample = td_loss(td_error, config.loss, hparams.huber_delta)
    loss = jnp.mean(per_sample if weight is None else weight * per_sample)
    return loss, (td_error, q_a)


@eqx.filter_jit
def td_update(
    params: QParams,
    opt_state: optax.OptState,
    batch: Batch,
    hparams: HParams,
    weight: Float[Array, " batch"] | None = None,
    *,
    q_static: PyTree,
    config: DQNConfig,
    allowed: Bool[Array, ""] | bool = True,
) -> tuple[QParams, optax.OptState, UpdateInfo]:
    """One gradient step on the TD loss of a batch, taken only if it is finite.

    ``loss = mean_i w_i L(y_i - Q_online(s_i, a_i))`` with ``y_i = r_i + discount_i * Q_target(s'_i,
    a*)`` the (Double) Q-learning target of sample ``i``; the gradient flows only into the online
    parameters, the target is a constant.

    The step is taken when ``allowed`` and the loss, the batch's mean Q and the gradient norm are
    finite (a finite gradient norm means finite gradients, so finite Adam moments and a finite
    step); otherwise the parameters and the optimiser state come back unchanged.
    ``info.applied`` says which.

    Args:
        params: online and target parameters.
        opt_state: the optimiser state of ``make_optimizer(config, hparams)``.
        batch: learning samples with leading axis ``batch_size`` (discounts already include
            gamma).
        hparams: the traced hyper-parameters (learning rate, Huber delta, clipping).
        weight: per-sample loss weights ``w_i``, shape ``(batch,)`` (prioritized replay's
            importance weights); ``None`` means all 1.
        q_static: the non-array part of the Q-network (``eqx.partition``).
        config: the static configuration (loss kind, Double DQN, lr decay).
        allowed: ``False`` skips the step whatever its values (a scalar, may be traced).

    Returns:
        The new parameters (target unchanged), the new optimiser state and the update's statistics
        (those of the gradient, whether the step was taken or not).
    """
    grad_fn = jax.value_and_grad(_loss, has_aux=True)
    (loss, (td_error, q_a)), grads = grad_fn(
        params.online, params.target, q_static, batch, weight, hparams, config
    )
    q_mean, grad_norm = jnp.mean(q_a), optax.tree.norm(grads)
    applied = jnp.logical_and(allowed, jnp.isfinite(loss) & jnp.isfinite(q_mean))
    applied &= jnp.isfinite(grad_norm)

    def step() -> tuple[PyTree, optax.OptState]:
        updates, new_opt_state = make_optimizer(config, hparams).update(
            grads, opt_state, params.online
        )
        return optax.apply_updates(params.online, updates), new_opt_state

    # A cond around Adam, not a select after it: for one agent the skipped branch passes the
    # buffers through, so XLA updates the parameters and Adam's moments in place instead of
    # copying them (under vmap a batched predicate turns the cond into the select).
    online, opt_state = jax.lax.cond(applied, step, lambda: (params.online, opt_state))
    info = UpdateInfo(loss, q_mean, grad_norm, td_error, applied)
    return QParams(online, params.target), opt_state, info
