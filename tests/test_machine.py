"""Machine facts come from the OS and are stable within a run."""

from coursekit.machine import describe_machine


def test_machine_description_is_plausible():
    machine = describe_machine()
    assert machine.cpu_model
    assert 1 <= machine.usable_cpus <= machine.logical_cpus
    assert machine.cpu_model in machine.summary()
    levels = {c.level for c in machine.caches}
    if levels:  # containers without sysfs report none, which is allowed
        assert 1 in levels and all(c.size_bytes > 0 and c.line_bytes > 0 for c in machine.caches)
        assert machine.cache_bytes(1) is not None


def test_fingerprint_is_stable_and_short():
    assert describe_machine().fingerprint == describe_machine().fingerprint
    assert len(describe_machine().fingerprint) == 16
