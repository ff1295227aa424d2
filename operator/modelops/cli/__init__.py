"""`kubectl modelops`: a kubectl plugin to watch and steer models and their rollouts.

Layout: `main` parses and dispatches, `client` is the only module that talks to the API,
`summary`/`views`/`actions`/`bundle` are pure (objects in, data or renderables out), `watch`
redraws a view until a rollout ends.
"""
