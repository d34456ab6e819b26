pytest_plugins = ["tests.fixtures.pg"]
