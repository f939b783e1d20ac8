"""The dilation curriculum of Suh et al. 2023 and its Ignite handler."""

from __future__ import annotations

import pytest
from ignite.engine import Engine, Events

from hipmonai.handlers import DilationSchedule, LabelCurriculum


def test_paper_schedule_and_scaling():
    s = DilationSchedule()
    assert [s(e) for e in (0, 49, 50, 100, 300, 349, 350, 1000)] == [65, 65, 55, 45, 5, 5, 0, 0]
    assert s.epochs_to_final() == 350 and s.stages()[0] == (0, 65) and s.stages()[-1] == (350, 0)
    half = DilationSchedule.scaled(256)
    assert (half.initial, half.step, half.every_epochs) == (32, 5, 50)
    assert DilationSchedule(5, 2, 1, final=1).stages() == [(0, 5), (1, 3), (2, 1)]
    for kwargs in ({"initial": 1, "final": 2}, {"step": 0}, {"every_epochs": 0}, {"initial": 1.5}):
        with pytest.raises(ValueError):
            DilationSchedule(**kwargs)


class _Target:
    dilation = -1


def test_handler_sets_k_before_each_epoch_and_resumes_exactly():
    target, seen = _Target(), []
    engine = Engine(lambda e, b: seen.append((e.state.epoch, target.dilation)))
    LabelCurriculum(target, DilationSchedule(4, 1, 2)).attach(engine)
    engine.run([0], max_epochs=6)
    assert seen == [(1, 4), (2, 4), (3, 3), (4, 3), (5, 2), (6, 2)]
    assert engine.state.label_dilation == 2

    resumed, seen2 = _Target(), []
    engine2 = Engine(lambda e, b: seen2.append((e.state.epoch, resumed.dilation)))
    handler = LabelCurriculum(resumed, DilationSchedule(4, 1, 2))
    handler.attach(engine2)
    engine2.add_event_handler(Events.STARTED, lambda e: None)
    engine2.state.epoch = 3  # as after loading a checkpoint of 3 finished epochs
    engine2.state.max_epochs = 6
    engine2.state.iteration = 3
    engine2.run([0], max_epochs=6)
    assert seen2 == [(4, 3), (5, 2), (6, 2)]
    with pytest.raises(ValueError, match="no attribute"):
        LabelCurriculum(object())
