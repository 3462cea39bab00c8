import pickle
import sys

import numpy as np
import pytest
import torch
from skorch import NeuralNetRegressor
from skorch.callbacks import Callback

from sk_digitsum.callbacks import EMA, ema_multi_avg


def test_ema_multi_avg_is_the_report_formula():
    averaged, current = [torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 6.0])]
    ema_multi_avg(averaged, current, torch.tensor(1), beta=0.75)
    torch.testing.assert_close(averaged[0], 0.75 * torch.tensor([1.0, 2.0]) + 0.25 * torch.tensor([3.0, 6.0]))
    counters = [torch.tensor(3)]
    ema_multi_avg(counters, [torch.tensor(8)], torch.tensor(1), beta=0.75)
    assert counters[0].item() == 8


def test_ema_multi_avg_weighs_by_beta_alone_not_by_the_number_averaged():
    # AveragedModel passes how many models it has averaged; an EMA ignores it.
    results = []
    for num_averaged in (torch.tensor(1), torch.tensor(1000)):
        averaged = [torch.tensor([1.0, 2.0])]
        ema_multi_avg(averaged, [torch.tensor([3.0, 6.0])], num_averaged, beta=0.5)
        results.append(averaged[0])
    torch.testing.assert_close(results[0], results[1])


def _regression_data():
    rng = np.random.RandomState(0)
    X = rng.randn(64, 3).astype(np.float32)
    return X, (X @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]


def _net(callbacks, **kwargs):
    params = dict(module__in_features=3, module__out_features=1, max_epochs=3, lr=0.1, batch_size=16,
                  callbacks=callbacks, verbose=0, train_split=None)
    return NeuralNetRegressor(torch.nn.Linear, **{**params, **kwargs})


def test_final_weights_are_the_average_of_the_trajectory():
    X, y = _regression_data()
    snapshots = []

    class Recorder(EMA):  # records the live weights after every optimizer step
        def on_batch_end(self, net, training=False, **kwargs):
            if training:
                snapshots.append(net.module_.weight.detach().clone())
            super().on_batch_end(net, training=training, **kwargs)

    torch.manual_seed(0)
    net = _net([Recorder(beta=0.9)]).fit(X, y)
    expected = snapshots[0]
    for snapshot in snapshots[1:]:
        expected = 0.9 * expected + 0.1 * snapshot
    torch.testing.assert_close(net.module_.weight.detach(), expected)
    assert not torch.allclose(expected, snapshots[-1])


def test_validation_uses_average_and_training_resumes_on_live_weights():
    X, y = _regression_data()
    seen = {}

    class Probe(EMA):
        def on_batch_begin(self, net, training=False, **kwargs):
            super().on_batch_begin(net, training=training, **kwargs)
            if not training:
                seen["valid"] = net.module_.weight.detach().clone()
                seen["average"] = self.averaged_.module.weight.detach().clone()  # live, while swapped

        def on_epoch_end(self, net, **kwargs):
            super().on_epoch_end(net, **kwargs)
            seen["after"] = net.module_.weight.detach().clone()
            seen["average_after"] = self.averaged_.module.weight.detach().clone()

    from skorch.dataset import ValidSplit

    torch.manual_seed(0)
    _net([Probe(beta=0.5)], max_epochs=1).set_params(train_split=ValidSplit(4)).fit(X, y)
    torch.testing.assert_close(seen["valid"], seen["average_after"])
    torch.testing.assert_close(seen["average"], seen["after"])


def test_beta_zero_keeps_last_weights():
    X, y = _regression_data()
    torch.manual_seed(0)
    plain = _net([]).fit(X, y)
    torch.manual_seed(0)
    averaged = _net([EMA(beta=0.0)]).fit(X, y)
    torch.testing.assert_close(plain.module_.weight, averaged.module_.weight)


def test_pickles_without_training_state():
    X, y = _regression_data()
    callback = EMA(beta=0.9).initialize()
    net = _net([callback]).initialize()
    callback.on_train_begin(net)
    callback.on_batch_begin(net, training=True)
    assert callback.averaged_ is not None
    restored = pickle.loads(pickle.dumps(callback))
    assert restored.beta == 0.9 and restored.averaged_ is None and callback.averaged_ is not None
    fitted = _net([EMA()]).fit(X, y)
    restored_net = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(restored_net.predict(X), fitted.predict(X))
    assert restored_net.callbacks[0].averaged_ is None


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
                self.first_ = self.averaged_.module.weight.detach().clone()
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
