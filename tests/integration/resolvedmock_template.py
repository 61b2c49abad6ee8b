'''A python3-dbusmock template for systemd-resolved's org.freedesktop.resolve1.Manager:
the per-link calls the steering backend makes (SetLinkDNS, SetLinkDomains,
SetLinkDefaultRoute, SetLinkLLMNR, SetLinkMulticastDNS, RevertLink, FlushCaches), recorded for the mock's GetCalls, and
the resulting per-link state (DdrLinks), also published as the manager's DNS and
Domains properties with a PropertiesChanged for DNS on every change, as the real
resolved does (RevertLink calls manager_send_changed(m, "DNS")). DdrUnknownLink(n) makes the next n per-link
calls fail with NoSuchLink, as the real resolved answers until rtnetlink has told it
of a new link. python3-dbusmock ships no resolve1 template.'''

import dbus

from dbusmock import MOCK_IFACE

BUS_NAME = 'org.freedesktop.resolve1'
MAIN_OBJ = '/org/freedesktop/resolve1'
MAIN_IFACE = 'org.freedesktop.resolve1.Manager'
SYSTEM_BUS = True

_links = {}
_state = {'unknown': 0}


def _link(ifindex):
    if _state['unknown'] > 0:
        _state['unknown'] -= 1
        raise dbus.exceptions.DBusException('Link %d not known' % ifindex,
                                            name='org.freedesktop.resolve1.NoSuchLink')
    if ifindex <= 0:
        raise dbus.exceptions.DBusException('Invalid interface index %d' % ifindex,
                                            name='org.freedesktop.DBus.Error.InvalidArgs')
    return _links.setdefault(int(ifindex), {})


def _publish(self):
    dns = dbus.Array([dbus.Struct((dbus.Int32(i), dbus.Int32(f),
                                   dbus.Array([dbus.Byte(b) for b in a], signature='y')))
                      for i, link in sorted(_links.items()) for f, a in link.get('dns', [])],
                     signature='(iiay)')
    domains = dbus.Array([dbus.Struct((dbus.Int32(i), dbus.String(d), dbus.Boolean(r)))
                          for i, link in sorted(_links.items())
                          for d, r in link.get('domains', [])], signature='(isb)')
    self.props[MAIN_IFACE]['DNS'] = dns
    self.props[MAIN_IFACE]['Domains'] = domains
    self.EmitSignal(dbus.PROPERTIES_IFACE, 'PropertiesChanged', 'sa{sv}as',
                    [MAIN_IFACE, dbus.Dictionary({'DNS': dns}, signature='sv'),
                     dbus.Array([], signature='s')])


def _set_dns(self, ifindex, addresses):
    _link(ifindex)['dns'] = [(int(f), list(bytes(a))) for f, a in addresses]
    _publish(self)


def _set_domains(self, ifindex, domains):
    _link(ifindex)['domains'] = [(str(d), bool(r)) for d, r in domains]
    _publish(self)


def _set_default_route(self, ifindex, enable):
    _link(ifindex)['default-route'] = bool(enable)


def _set_mode(key, values):
    '''SetLinkLLMNR / SetLinkMulticastDNS: resolved accepts yes/no/resolve or '' (the
    global default) and refuses anything else with InvalidArgs.'''
    def set_mode(self, ifindex, mode):
        if str(mode) not in values:
            raise dbus.exceptions.DBusException('Invalid %s setting: %s' % (key, mode),
                                                name='org.freedesktop.DBus.Error.InvalidArgs')
        _link(ifindex)[key] = str(mode)
    return set_mode


def _revert(self, ifindex):
    _link(ifindex)
    _links.pop(int(ifindex), None)
    _publish(self)


def load(mock, parameters):
    mock.AddMethods(MAIN_IFACE, [
        ('SetLinkDNS', 'ia(iay)', '', _set_dns),
        ('SetLinkDomains', 'ia(sb)', '', _set_domains),
        ('SetLinkDefaultRoute', 'ib', '', _set_default_route),
        ('SetLinkLLMNR', 'is', '', _set_mode('llmnr', ('', 'yes', 'no', 'resolve'))),
        ('SetLinkMulticastDNS', 'is', '', _set_mode('mdns', ('', 'yes', 'no', 'resolve'))),
        ('RevertLink', 'i', '', _revert),
        ('FlushCaches', '', '', ''),
    ])
    mock.AddProperties(MAIN_IFACE, {
        'DNS': dbus.Array([], signature='(iiay)'),
        'Domains': dbus.Array([], signature='(isb)'),
    })


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='s')
def DdrLinks(self):
    '''The per-link settings, repr() of {ifindex: {'dns': [(family, [bytes])],
    'domains': [(name, routing_only)], 'default-route': bool, 'llmnr': str,
    'mdns': str}}.'''
    return repr(_links)


@dbus.service.method(MOCK_IFACE, in_signature='u', out_signature='')
def DdrUnknownLink(self, n):
    _state['unknown'] = int(n)
