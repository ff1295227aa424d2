"""Traffic routing providers: how a canary weight becomes real traffic.

`replicas` needs no mesh (the weight is the canary's share of ready pods behind one Service);
`gatewayAPI` writes the weights of a user's HTTPRoute; `smi` owns an SMI TrafficSplit. base.py
says what every provider answers; registry.py is where they are registered.
"""
