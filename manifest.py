# For freezing into a firmware build: include("path/to/this/manifest.py") in a board manifest.
metadata(
    description="ESP-IDF's esp_https_ota for MicroPython: safe, verified firmware updates over HTTPS.",
    version="0.1.0",
    license="MIT",
)

package("esp_https_ota", base_path="lib")
