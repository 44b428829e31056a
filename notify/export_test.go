package notify

// TreatLoopbackAsRemote makes s handle a test server on the loopback
// interface as one on another host.
func TreatLoopbackAsRemote(s *SMTPSender) { s.remoteLoopback = true }
