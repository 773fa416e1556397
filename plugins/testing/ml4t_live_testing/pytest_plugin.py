"""pytest11 entry point: exposes the simulators' fixtures to any project that installs the kit.

Each simulator keeps its fixtures in its own module; they are re-exported here.
"""

from ml4t_live_testing.alpaca.fixtures import *  # noqa: F403
from ml4t_live_testing.ib.fixtures import *  # noqa: F403
from ml4t_live_testing.plugin_loading import load_only  # noqa: F401
from ml4t_live_testing.redis_server import fresh_redis, redis_server  # noqa: F401
