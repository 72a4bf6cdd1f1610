package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// runCluster is the fanout scenario over -nodes servers sharing one PostgreSQL schema: the
// subscribers of one room are spread round-robin over the nodes, and message i is posted to
// node i mod nodes, so most deliveries cross the database (LISTEN/NOTIFY). Latency is
// reported overall and split into local (posted to the subscriber's own node) and remote.
func runCluster(ctx context.Context, cfg config, t *target, rep *report) error {
	nodes := t.cluster()
	if len(nodes) < 2 {
		return fmt.Errorf("-scenario cluster runs on at least 2 spawned nodes; %d running", len(nodes))
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = n.nodeID + "=" + n.base
	}
	rep.add("nodes", len(nodes), "", "server processes on one PostgreSQL schema")
	rep.add("node_addrs", strings.Join(ids, " "), "", "")
	addLoadParams(rep, cfg)
	return oneRoom(ctx, cfg, t, rep, "bench-cluster-")
}

// cluster returns every node of a spawned cluster, or t alone.
func (t *target) cluster() []*target {
	if len(t.nodes) > 0 {
		return t.nodes
	}
	return []*target{t}
}

// spreadOver binds subscriber i to node nodeOfSub(i) and records, per delivery, whether the
// message was posted to the subscriber's own node.
func spreadOver(f *fleet, nodes []*target) {
	for _, s := range f.subs {
		s.node = nodeOfSub(s.i, len(nodes))
		s.at = nodes[s.node]
	}
	f.l.nodeOf = func(idx int64) int { return nodeOfMessage(idx, len(nodes)) }
	f.l.local, f.l.remote = new(hist), new(hist)
}

// nodeOfMessage is the node message idx is posted to: round-robin.
func nodeOfMessage(idx int64, nodes int) int { return int(idx % int64(nodes)) }

// nodeOfSub is the node subscriber i reads from: round-robin, shifted by one every
// lcm(nodes, 3) subscribers so that with -transport mix (transport i mod 3) every node gets
// every transport even when nodes is a multiple of 3.
func nodeOfSub(i, nodes int) int {
	period := nodes
	for period%3 != 0 {
		period += nodes
	}
	return (i + i/period) % nodes
}

// nodesCPU measures the CPU of every node over one window.
type nodesCPU []*cpuMeter

func startNodesCPU(nodes []*target) nodesCPU {
	m := make(nodesCPU, len(nodes))
	for i, n := range nodes {
		m[i] = startCPU(n.pid)
	}
	return m
}

// stop returns each node's cores (-1 when unknown), their sum (-1 when any is unknown), the
// generator's cores and the window.
func (m nodesCPU) stop() (perNode []float64, server, self float64, wall time.Duration) {
	for i, c := range m {
		s, g, w := c.stop()
		if i == 0 {
			self, wall = g, w
		}
		perNode = append(perNode, s)
		if s < 0 || server < 0 {
			server = -1
		} else {
			server += s
		}
	}
	return perNode, server, self, wall
}

// nodesRSS reads every node's VmRSS (-1 when unknown).
func nodesRSS(nodes []*target) []int64 {
	rss := make([]int64, len(nodes))
	for i, n := range nodes {
		rss[i] = n.rss()
	}
	return rss
}

// addLocalRemote reports the latency of deliveries to subscribers on the node a message was
// posted to, and of the ones that crossed to another node.
func addLocalRemote(rep *report, l *load) {
	rep.add("local_deliveries", int64(l.local.count.Load()), "", "deliveries to subscribers on the node the message was posted to")
	rep.add("remote_deliveries", int64(l.remote.count.Load()), "", "deliveries that crossed to another node (PostgreSQL NOTIFY)")
	rep.addLatency("local_latency", l.local, "local: post sent → event received")
	rep.addLatency("remote_latency", l.remote, "remote (cross-node): post sent → event received")
}

// addNodes reports each node's subscribers, deliveries, CPU and RSS, under node_<x>_ keys
// where x is the letter of its --node-id (bench-a, bench-b, …).
func addNodes(rep *report, f *fleet, nodes []*target, cpu []float64, rss []int64) {
	subs := make([]int, len(nodes))
	got := make([]int64, len(nodes))
	for _, s := range f.subs {
		subs[s.node]++
		got[s.node] += s.got.Load()
	}
	for i, n := range nodes {
		key := "node_" + strings.TrimPrefix(n.nodeID, "bench-") + "_"
		rep.add(key+"subscribers", subs[i], "", n.nodeID+": subscribers reading from it")
		rep.add(key+"delivered", got[i], "", "")
		if cpu[i] >= 0 {
			rep.add(key+"cpu_cores", cpu[i], "cores", "")
		}
		if rss[i] >= 0 {
			rep.add(key+"rss_mib", mib(rss[i]), "MiB", "VmRSS at the end of the window")
		}
	}
}
