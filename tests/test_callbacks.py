import pickle
import sys

import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback

from sk_digitsum.callbacks import EMA


def test_warm_up_grows_the_factor_to_beta_as_tensorflow_does():
    ema = EMA(beta=0.99)
    factors = [ema.beta_at(t) for t in range(2000)]
    assert factors[:3] == [1 / 10, 2 / 11, 3 / 12]
    assert factors == sorted(factors) and max(factors) == 0.99 and factors[-1] == 0.99
    assert factors.index(0.99) == 890  # (1 + t) / (10 + t) first reaches 0.99 at t = 890
    assert [EMA(beta=0.5, warmup=False).beta_at(t) for t in (0, 100)] == [0.5, 0.5]
    assert EMA(beta=0.5).beta_at(0) == 0.1 and EMA(beta=0.05).beta_at(0) == 0.05


def _regression_data():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 3).astype(np.float32)
    return X, (X @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def _net(callbacks, **kwargs):
    params = dict(module__in_features=3, module__out_features=1, max_epochs=3, lr=0.1, batch_size=16,
                  callbacks=callbacks, verbose=0, train_split=None)
    return NeuralNetRegressor(torch.nn.Linear, **{**params, **kwargs})


@pytest.mark.parametrize("warmup", [True, False])
def test_final_weights_are_the_average_of_the_trajectory(warmup):
    X, y = _regression_data()
    snapshots = []

    class Recorder(EMA):  # records the weights the fit starts from and those after every optimizer step
        def on_batch_begin(self, net, training=False, **kwargs):
            if training and not snapshots:
                snapshots.append(net.module_.weight.detach().clone())
            super().on_batch_begin(net, training=training, **kwargs)

        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                snapshots.append(net.module_.weight.detach().clone())
            super().on_batch_end(net, training=training, **kwargs)

    torch.manual_seed(0)
    net = _net([Recorder(beta=0.9, warmup=warmup)]).fit(X, y)
    expected = snapshots[0]
    for t, snapshot in enumerate(snapshots[1:]):
        factor = min(0.9, (1 + t) / (10 + t)) if warmup else 0.9
        expected = factor * expected + (1 - factor) * snapshot
    assert len(snapshots) == 1 + 3 * 4  # three epochs of four batches
    torch.testing.assert_close(net.module_.weight.detach(), expected)
    assert not torch.allclose(expected, snapshots[-1])


@pytest.mark.parametrize("validation", [True, False])
def test_the_end_of_an_epoch_sees_the_scored_average_and_training_resumes_on_live_weights(validation):
    from skorch.dataset import ValidSplit

    X, y = _regression_data()
    seen = []

    class Probe(EMA):
        def on_batch_begin(self, net, training=False, **kwargs):
            super().on_batch_begin(net, training=training, **kwargs)
            if not training and "valid" not in seen[-1]:
                seen[-1]["valid"] = net.module_.weight.detach().clone()
            if training and "live" not in seen[-1]:
                seen[-1]["live"] = net.module_.weight.detach().clone()

        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                seen[-1]["step"] = net.module_.weight.detach().clone()  # live, after the step
            super().on_batch_end(net, training=training, **kwargs)
            if training:
                seen[-1]["average"] = self.average_.weight.detach().clone()

        def on_epoch_begin(self, net, **kwargs):
            seen.append({"begin": net.module_.weight.detach().clone()})

    class AtEpochEnd(Callback):  # a user's callback, as Checkpoint, after the default ones
        def on_epoch_end(self, net, **kwargs):
            seen[-1]["end"] = net.module_.weight.detach().clone()

    torch.manual_seed(0)
    _net([Probe(beta=0.5), AtEpochEnd()], max_epochs=2, train_split=ValidSplit(4) if validation else None).fit(X, y)
    for epoch in seen:
        if validation:
            torch.testing.assert_close(epoch["valid"], epoch["average"])  # validation scores the average
        torch.testing.assert_close(epoch["end"], epoch["average"])  # and the epoch ends with it in the network
    assert not torch.equal(seen[1]["begin"], seen[0]["step"])
    torch.testing.assert_close(seen[1]["live"], seen[0]["step"])  # the next step trains the live weights


def test_beta_zero_keeps_last_weights():
    X, y = _regression_data()
    torch.manual_seed(0)
    plain = _net([]).fit(X, y)
    torch.manual_seed(0)
    averaged = _net([EMA(beta=0.0)]).fit(X, y)
    torch.testing.assert_close(plain.module_.weight, averaged.module_.weight)


def test_pickles_without_training_state():
    X, y = _regression_data()
    callback = EMA(beta=0.9, warmup=False).initialize()
    net = _net([callback]).initialize()
    callback.on_train_begin(net)
    callback.on_batch_begin(net, training=True)
    callback.on_batch_end(net, training=True)
    assert callback.average_ is not None and callback.n_updates_ == 1
    restored = pickle.loads(pickle.dumps(callback))
    assert (restored.beta, restored.warmup) == (0.9, False)
    assert (restored.average_, restored.tensors_, restored.n_updates_) == (None, None, 0)
    assert callback.average_ is not None
    fitted = _net([EMA()]).fit(X, y)
    restored_net = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored_net.predict(X), fitted.predict(X))
    assert restored_net.callbacks[0].average_ is None


@pytest.mark.parametrize("beta", [-0.1, 1.0, 1.5])
def test_rejects_bad_beta(beta):
    with pytest.raises(ValueError, match=r"beta must be in \[0, 1\)"):
        EMA(beta=beta).initialize()


def test_average_starts_from_weights_that_later_callbacks_load():
    X, y = _regression_data()
    loaded = torch.full((1, 3), 7.0)

    class LoadWeights(Callback):  # as LoadInitState does, after the default callbacks
        def on_train_begin(self, net, **kwargs):
            with torch.no_grad():
                net.module_.weight.copy_(loaded)

    class FirstAverage(EMA):
        def on_batch_end(self, net, training=False, **kwargs):
            if training and not hasattr(self, "first_"):
                self.first_ = self.average_.weight.detach().clone()
            super().on_batch_end(net, training=training, **kwargs)

    ema = FirstAverage(beta=0.5)
    torch.manual_seed(0)
    _net([ema, LoadWeights()], max_epochs=1).fit(X, y)
    torch.testing.assert_close(ema.first_, loaded)


@pytest.mark.parametrize("tty, no_color, sink, coloured", [
    (True, None, print, True),
    (False, None, print, False),    # piped or redirected
    (True, "1", print, False),      # https://no-color.org
    (True, "", print, True),        # set but empty counts as unset
    (True, None, "logger", False),  # any other sink is not a terminal
])
def test_print_log_colours_best_values_only_on_a_terminal(monkeypatch, tty, no_color, sink, coloured):
    from skorch.callbacks.logging import Ansi

    from sk_digitsum.callbacks import PrintLog, colours_wanted

    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    sink = print if sink is print else (lambda line: None)
    assert colours_wanted(sink) is coloured
    log = PrintLog(sink=sink).initialize()
    cell = log.format_row({"train_loss": 0.25, "train_loss_best": True}, "train_loss", color=Ansi.BLUE.value)
    assert cell == (f"{Ansi.BLUE.value}0.2500{Ansi.ENDC.value}" if coloured else "0.2500")


def test_lr_scheduler_steps_the_rate_and_pickles_without_its_scheduler_object():
    from torch.optim.lr_scheduler import StepLR

    from sk_digitsum.callbacks import LRScheduler

    X, y = _regression_data()
    net = _net([("halve", LRScheduler(StepLR, step_size=1, gamma=0.5))], max_epochs=3).fit(X, y)
    assert net.history[:, "event_lr"] == [0.1, 0.05, 0.025]
    callback = dict(net.callbacks_)["halve"]
    assert hasattr(callback, "lr_scheduler_")
    assert not hasattr(pickle.loads(pickle.dumps(callback)), "lr_scheduler_")


def test_print_log_passes_skorch_table_options_through():
    from sk_digitsum.callbacks import PrintLog

    X, y = _regression_data()
    lines = []
    log = PrintLog(sink=lines.append, keys_ignored=["dur"], floatfmt=".2f", tablefmt="plain", stralign="left")
    net = _net([], max_epochs=1, callbacks__print_log=log).fit(X, y)
    table = "\n".join(lines)
    assert "dur" not in table and "-----" not in table  # no timing column; 'plain' draws no rules
    loss = net.history[-1, "train_loss"]
    assert f"{loss:.2f}" in table and f"{loss:.4f}" not in table


def test_print_log_shows_each_epoch_of_the_fit_s_end_and_the_time_left(monkeypatch):
    import re

    from sk_digitsum.callbacks import PrintLog

    X, y = _regression_data()
    clock = iter(range(0, 1000, 10))  # ten seconds an epoch
    monkeypatch.setattr("sk_digitsum.callbacks.time.monotonic", lambda: next(clock))
    lines = []
    net = _net([], max_epochs=3, callbacks__print_log=PrintLog(sink=lines.append)).fit(X, y)
    net.set_params(max_epochs=2).partial_fit(X, y)  # continues the count: epochs 4 and 5 of 5
    rows = [line.split() for line in "\n".join(lines).splitlines() if re.match(r"^ +\d/\d ", line)]
    header = "\n".join(lines).splitlines()[0].split()
    assert [row[0] for row in rows] == ["1/3", "2/3", "3/3", "4/5", "5/5"]
    assert [row[header.index("left")] for row in rows] == ["20s", "10s", "0s", "10s", "0s"]
