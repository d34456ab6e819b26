pytest_plugins = ["tests.fixtures.pg", "tests.fixtures.httpserver", "tests.fixtures.recon_data"]
