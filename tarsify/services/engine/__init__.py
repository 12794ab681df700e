"""The engine: runs an execution from its request to its end, whoever records a change.

``executions`` (run, get, list, cancel), ``dispatch`` (submit / poll / cancel at the
provider), ``recording`` (what a provider's report changes, its files stored first),
``changes`` (``store_change``: every change of an execution, with its listeners, in one
transaction), ``reconciler``, ``run_targets``, ``settings``, and the listeners that act
inside every change (``listeners``: the protocol and the table;
``credit_listener``, ``webhook_listener``, ``feed_listener``).
"""
