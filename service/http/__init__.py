"""The HTTP side of the service: the JSON API, the dashboard's static pages and Prometheus metrics."""
