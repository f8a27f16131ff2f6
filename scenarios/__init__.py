"""Scenarios and the engines they configure. The registry is ``scenarios.registry``; this
package imports nothing, so importing an engine loads no scenario."""
