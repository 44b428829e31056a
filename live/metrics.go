package live

import "github.com/prometheus/client_golang/prometheus"

// Metrics count the live connections, their subscriptions and the events
// delivered to them.
type Metrics struct {
	// Connections is the WebSocket connections open; the transport that
	// accepts them keeps it.
	Connections prometheus.Gauge
	// Subscriptions is the subscriptions running.
	Subscriptions prometheus.Gauge
	// Delivered counts events handed to subscriptions.
	Delivered prometheus.Counter
}

// newMetrics registers the hub's collectors with reg, when it is not nil.
func newMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "customerservice_websocket_connections",
			Help: "WebSocket connections open for subscriptions.",
		}),
		Subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "customerservice_subscriptions",
			Help: "Subscriptions to the event log running.",
		}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "customerservice_events_delivered_total",
			Help: "Events handed to subscriptions (one event counts once per subscription it matches).",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.Connections, m.Subscriptions, m.Delivered)
	}
	return m
}
