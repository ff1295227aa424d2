"""Traffic routing providers: how a canary weight becomes real traffic.

Every provider answers the same two questions: which objects express the weight, and what
weight is really in effect. `replicas` needs no mesh (the weight is the canary's share of
ready pods behind one Service); `gatewayAPI` writes HTTPRoute backendRefs weights.
"""
