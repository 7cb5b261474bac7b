// Package metrics writes the result of a backup run as a Prometheus
// text-format file for node_exporter's textfile collector.
//
// Write replaces the file atomically and keeps the samples of other
// profiles that share it, and the last success time of the same profile
// when the run being written failed. The package knows nothing of
// repositories: its input is a Run, and it never labels a sample with a
// repository location.
package metrics
