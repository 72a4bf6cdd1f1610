package realtime

// The presence of users on other nodes of a cluster: what their hubs broadcast, kept per node
// and merged with this node's own, so that a room's online list is cluster-wide.

// remoteRoom applies another node's news of a user in a room, telling this node's subscribers
// when the cluster-wide answer changes. Called with p.mu held.
func (p *presence) remoteRoom(node, topic, userID string, info PresenceInfo, present bool) {
	was := p.present(topic, userID)
	users := p.remote[topic]
	if present {
		if users == nil {
			users = make(map[string]nodeSet)
			p.remote[topic] = users
		}
		if users[userID] == nil {
			users[userID] = make(nodeSet)
		}
		users[userID][node] = true
		p.rememberUser(node, info)
	} else if users[userID] != nil {
		delete(users[userID], node)
		if len(users[userID]) == 0 {
			delete(users, userID)
		}
		if len(users) == 0 {
			delete(p.remote, topic)
		}
	}
	switch now := p.present(topic, userID); {
	case now && !was:
		p.joined(topic, userID)
	case !now && was:
		p.left(topic, userID)
	}
}

func (p *presence) rememberUser(node string, info PresenceInfo) {
	if info.UserID == "" {
		return
	}
	o := p.others[info.UserID]
	if o == nil {
		o = &remoteUser{nodes: make(nodeSet)}
		p.others[info.UserID] = o
	}
	o.info = info
	o.nodes[node] = true
}

func (p *presence) remoteUser(node string, d userDelta) {
	if d.Online {
		p.rememberUser(node, d.Info)
		if d.Status {
			if st := p.users[d.User]; st != nil { // one status per user, whichever node set it
				st.status, st.page = d.Info.Status, d.Info.CurrentPage
			}
			p.announceStatus(d.User)
		}
		return
	}
	if o := p.others[d.User]; o != nil {
		delete(o.nodes, node)
		if len(o.nodes) == 0 {
			delete(p.others, d.User)
		}
	}
}

// sendState broadcasts this node's whole presence state. It is sent under p.mu, as every
// presence delta is, so the other nodes never see it after a change it does not contain.
func (p *presence) sendState() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.hub.broadcast(kindState, p.snapshot())
}

// snapshot is this node's presence state. Called with p.mu held.
func (p *presence) snapshot() nodeState {
	s := nodeState{Rooms: make(map[string][]string), Users: make(map[string]PresenceInfo)}
	for topic, users := range p.rooms {
		for id := range users {
			s.Rooms[topic] = append(s.Rooms[topic], id)
		}
	}
	for id := range p.users {
		s.Users[id] = p.info(id)
	}
	return s
}

// replaceNode takes a node's whole state as the truth about it.
func (p *presence) replaceNode(node string, s nodeState) {
	for _, info := range s.Users {
		p.rememberUser(node, info)
	}
	for id, o := range p.others {
		if _, ok := s.Users[id]; !ok && o.nodes[node] {
			p.remoteUser(node, userDelta{User: id, Online: false})
		}
	}
	want := make(map[string]map[string]bool)
	for topic, users := range s.Rooms {
		want[topic] = make(map[string]bool)
		for _, id := range users {
			want[topic][id] = true
			p.remoteRoom(node, topic, id, s.Users[id], true)
		}
	}
	for topic, users := range p.remote {
		for id, nodes := range users {
			if nodes[node] && !want[topic][id] {
				p.remoteRoom(node, topic, id, PresenceInfo{}, false)
			}
		}
	}
}

// forgetNode drops everything a node that stopped beating had told.
func (p *presence) forgetNode(node string) {
	delete(p.nodes, node)
	p.replaceNode(node, nodeState{})
}
