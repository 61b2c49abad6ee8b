"""dbusmock template (loaded by path into the mock process by nmmock.NMMock): the stock
`networkmanager` template of python3-dbusmock, plus what libnm and threatstop-ddrd need.

It loads the stock template and adds PrimaryConnection, the connectivity-check
properties, devices with IpInterface and Ip4/Ip6Connectivity, IP4Config objects
(NameserverData, Nameservers, Domains, Searches, AddressData, DnsPriority), the
DnsManager object, active connections (Ethernet, Wi-Fi, VPN), and the methods the
daemon's steering calls with the semantics of NM 1.42: Settings.AddConnection2,
GetConnectionByUuid, ListConnections, Settings.Connection.Update/Update2/Delete/
GetSettings, Manager.ActivateConnection/DeactivateConnection/CheckConnectivity,
Device.Reapply/GetAppliedConnection. Every call the daemon makes is recorded with
its object path and a timestamp (NMMock.calls()).

Property types follow NM's introspection exactly (dbus.UInt32 for enums and so on):
libnm ignores a property of the wrong type. Every change emits
org.freedesktop.DBus.Properties.PropertiesChanged on the property's own interface.

Mock controls (interface org.freedesktop.DBus.Mock on /org/freedesktop):
DdrAddNetwork(a{sv}) -> o, DdrAddVpn(a{sv}) -> o, DdrRemoveNetwork(s uuid),
DdrSetConnectivity(u), DdrSetServers(s uuid, as), DdrSetCheckResult(i), DdrSetConnectivityCheck(b, s),
DdrGetCalls(s method) -> a(dsav), DdrClearCalls(), DdrActiveUuids() -> as,
DdrReactivations() -> as,
DdrSetAddAndActivate2(s 'works' | 'refuse') (offers Manager.AddAndActivateConnection2 with
persist and bind-activation=dbus-client; not offered by default, like NM < 1.16),
DdrSetResolvConf(s path) (from then on the mock writes that file from its DNS
configuration whenever it changes, as NM with dns=default and rc-manager=file does; ''
stops it), DdrRenewLease(s uuid, a{sv} spec) (a DHCP renewal of an active network: new
address and/or servers on the same active connection)."""

import os
import socket
import struct
import time

import dbus
import dbus.lowlevel
import dbus.service

import dbusmock
from dbusmock import MOCK_IFACE
from dbusmock.templates import networkmanager as _nmt

BUS_NAME = _nmt.BUS_NAME
MAIN_OBJ = _nmt.MAIN_OBJ
SYSTEM_BUS = True
IS_OBJECT_MANAGER = True

NM = 'org.freedesktop.NetworkManager'
MANAGER_OBJ = '/org/freedesktop/NetworkManager'
SETTINGS_OBJ = MANAGER_OBJ + '/Settings'
DNS_OBJ = MANAGER_OBJ + '/DnsManager'
DEVICE_IFACE = NM + '.Device'
SETTINGS_IFACE = NM + '.Settings'
CONN_IFACE = NM + '.Settings.Connection'
ACTIVE_IFACE = NM + '.Connection.Active'
VPN_IFACE = NM + '.VPN.Connection'
IP4_IFACE = NM + '.IP4Config'
IP6_IFACE = NM + '.IP6Config'
DNS_IFACE = NM + '.DnsManager'

# NM enums used here
CONNECTIVITY = {'UNKNOWN': 0, 'NONE': 1, 'PORTAL': 2, 'LIMITED': 3, 'FULL': 4}
NM_STATE_FOR_CONNECTIVITY = {0: 70, 1: 50, 2: 60, 3: 60, 4: 70}
DEVICE_TYPES = {'802-3-ethernet': 1, '802-11-wireless': 2, 'veth': 20, 'dummy': 22,
                'tun': 16, 'ip-tunnel': 17, 'wireguard': 29, 'generic': 14}
DEVICE_ACTIVATED = 100
DEVICE_DISCONNECTED = 30
AC_ACTIVATED = 2
AC_DEACTIVATED = 4
ROOT = dbus.ObjectPath('/')

# The stock template's D-Bus methods (SetProperty, AddEthernetDevice, ...), so that its
# manager and settings code, which calls them on `self`, keeps working.
for _name in dir(_nmt):
    _fn = getattr(_nmt, _name)
    if hasattr(_fn, '_dbus_interface') and not getattr(_fn, '_dbus_is_signal', False):
        globals()[_name] = _fn
del _name, _fn

_state = {
    'seq': 0,
    'calls': [],            # (time, path, method, args)
    'check_result': -1,     # what the next CheckConnectivity() turns connectivity into
    'reactivations': [],    # UUIDs activated again while active
}


def _next(kind):
    _state['seq'] += 1
    return dbus.ObjectPath('%s/%s/%d' % (MANAGER_OBJ, kind, _state['seq']))


def _obj(path):
    return dbusmock.get_object(str(path))


def _exists(path):
    return str(path) in dbusmock.mockobject.objects


def _record(path, method, args):
    _state['calls'].append((time.time(), str(path), method, list(args)))


def _u(v):
    return dbus.UInt32(int(v))


def _ip4_to_u32(addr):
    # NM's "au" nameservers: the address bytes in network order read as a host uint32
    return dbus.UInt32(struct.unpack('=I', socket.inet_aton(str(addr)))[0])


def _u32_to_ip4(v):
    return socket.inet_ntoa(struct.pack('=I', int(v)))


def _update(path, iface, props):
    """Change properties and emit one PropertiesChanged on their interface (dbusmock's
    UpdateProperties cannot wrap structs and dicts)."""
    obj = _obj(path)
    for name, value in props.items():
        if name not in obj.props.get(iface, {}):
            raise dbus.exceptions.DBusException('property %s not found' % name,
                                                name=iface + '.NoSuchProperty')
        obj.props[iface][name] = value
    obj.EmitSignal(dbus.PROPERTIES_IFACE, 'PropertiesChanged', 'sa{sv}as',
                   [iface, dbus.Dictionary(props, signature='sv'), dbus.Array([], signature='s')])


def _manager():
    return _obj(MANAGER_OBJ)


def _mprop(name):
    return _manager().Get(NM, name)


def _add(path, iface, props, methods=(), extra=()):
    """Create an object with its interfaces and tell the ObjectManager (libnm)."""
    mock = _manager()
    mock.AddObject(path, iface, props, list(methods))
    obj = _obj(path)
    for other_iface, other_props in extra:
        obj.AddProperties(other_iface, other_props)
    mock.object_manager_emit_added(path)
    return obj


def _remove(path):
    if not _exists(path):
        return
    mock = _manager()
    mock.object_manager_emit_removed(path)
    mock.RemoveObject(path)


def _strs(v):
    return dbus.Array([dbus.String(x) for x in (v or [])], signature='s')


# IP configuration ---------------------------------------------------------------------

def _ip4_props(addresses, gateway, servers, domains, searches, priority):
    v4 = [s for s in servers if ':' not in s]
    addr_data = dbus.Array([dbus.Dictionary({'address': dbus.String(a.split('/')[0]),
                                             'prefix': _u(a.split('/')[1] if '/' in a else 32)},
                                            signature='sv') for a in addresses],
                           signature='a{sv}')
    return {
        'Addresses': dbus.Array([dbus.Array([_ip4_to_u32(a.split('/')[0]),
                                             _u(a.split('/')[1] if '/' in a else 32),
                                             _ip4_to_u32(gateway or '0.0.0.0')],
                                            signature='u') for a in addresses],
                                signature='au'),
        'AddressData': addr_data,
        'Gateway': dbus.String(gateway or ''),
        'Routes': dbus.Array([], signature='au'),
        'RouteData': dbus.Array([], signature='a{sv}'),
        'NameserverData': dbus.Array([dbus.Dictionary({'address': dbus.String(s)}, signature='sv')
                                      for s in v4], signature='a{sv}'),
        'Nameservers': dbus.Array([_ip4_to_u32(s) for s in v4], signature='u'),
        'Domains': _strs(domains),
        'Searches': _strs(searches),
        'DnsOptions': dbus.Array([], signature='s'),
        'DnsPriority': dbus.Int32(priority),
        'WinsServerData': dbus.Array([], signature='s'),
        'WinsServers': dbus.Array([], signature='u'),
    }


def _ip6_props(servers, domains):
    v6 = [s for s in servers if ':' in s]
    return {
        'Addresses': dbus.Array([], signature='(ayuay)'),
        'AddressData': dbus.Array([], signature='a{sv}'),
        'Gateway': dbus.String(''),
        'Routes': dbus.Array([], signature='(ayuayu)'),
        'RouteData': dbus.Array([], signature='a{sv}'),
        'Nameservers': dbus.Array([dbus.Array([dbus.Byte(b) for b in socket.inet_pton(
            socket.AF_INET6, s)], signature='y') for s in v6], signature='ay'),
        'Domains': _strs(domains if v6 else []),
        'Searches': _strs([]),
        'DnsOptions': dbus.Array([], signature='s'),
        'DnsPriority': dbus.Int32(100),
    }


# Devices ------------------------------------------------------------------------------

def _find_device(iface):
    for path in _mprop('AllDevices'):
        if _exists(path) and _obj(path).Get(DEVICE_IFACE, 'Interface') == iface:
            return path
    return None


def _device(iface, dtype):
    """The device object for interface iface (created when missing)."""
    path = _find_device(iface)
    if path:
        return path
    path = _next('Devices')
    hw = '02:00:00:%02x:%02x:%02x' % (_state['seq'] & 0xff, 0x42, len(iface))
    props = {
        'Udi': dbus.String('/sys/devices/virtual/net/' + iface),
        'Path': dbus.String(''),
        'Interface': dbus.String(iface),
        'IpInterface': dbus.String(''),
        'Driver': dbus.String('dbusmock'),
        'DriverVersion': dbus.String(''),
        'FirmwareVersion': dbus.String(''),
        'Capabilities': _u(1),
        'Ip4Address': _u(0),
        'State': _u(DEVICE_DISCONNECTED),
        'StateReason': dbus.Struct((_u(DEVICE_DISCONNECTED), _u(0)), signature='uu'),
        'ActiveConnection': ROOT,
        'Ip4Config': ROOT,
        'Dhcp4Config': ROOT,
        'Ip6Config': ROOT,
        'Dhcp6Config': ROOT,
        'Managed': dbus.Boolean(True),
        'Autoconnect': dbus.Boolean(True),
        'FirmwareMissing': dbus.Boolean(False),
        'NmPluginMissing': dbus.Boolean(False),
        'DeviceType': _u(DEVICE_TYPES.get(dtype, 14)),
        'AvailableConnections': dbus.Array([], signature='o'),
        'PhysicalPortId': dbus.String(''),
        'Mtu': _u(1500),
        'Metered': _u(0),
        'LldpNeighbors': dbus.Array([], signature='a{sv}'),
        'Real': dbus.Boolean(True),
        'Ip4Connectivity': _u(0),
        'Ip6Connectivity': _u(0),
        'InterfaceFlags': _u(0x10003),
        'HwAddress': dbus.String(hw),
        'Ports': dbus.Array([], signature='o'),
    }
    methods = [
        ('Reapply', 'a{sa{sv}}tu', '', _device_reapply),
        ('GetAppliedConnection', 'u', 'a{sa{sv}}t', _device_get_applied),
        ('Disconnect', '', '', _device_disconnect),
    ]
    hw_props = {'HwAddress': dbus.String(hw), 'PermHwAddress': dbus.String(hw)}
    if dtype == '802-11-wireless':
        extra = [(NM + '.Device.Wireless', dict(hw_props, **{
            'Mode': _u(2), 'Bitrate': _u(54000), 'AccessPoints': dbus.Array([], signature='o'),
            'ActiveAccessPoint': ROOT, 'WirelessCapabilities': _u(0x7ff),
            'LastScan': dbus.Int64(0)}))]
    elif dtype in ('802-3-ethernet', 'veth'):
        extra = [(NM + '.Device.Wired', dict(hw_props, **{
            'Speed': _u(1000), 'S390Subchannels': dbus.Array([], signature='s'),
            'Carrier': dbus.Boolean(True)}))]
        if dtype == 'veth':
            extra.append((NM + '.Device.Veth', {'Peer': ROOT}))
    elif dtype == 'dummy':
        extra = [(NM + '.Device.Dummy', {'HwAddress': dbus.String(hw)})]
    elif dtype == 'tun':
        extra = [(NM + '.Device.Tun', {
            'Owner': dbus.Int64(-1), 'Group': dbus.Int64(-1), 'Mode': dbus.String('tun'),
            'NoPi': dbus.Boolean(True), 'VnetHdr': dbus.Boolean(False),
            'MultiQueue': dbus.Boolean(False), 'HwAddress': dbus.String('')})]
    else:
        extra = [(NM + '.Device.Generic', {'HwAddress': dbus.String(hw),
                                            'TypeDescription': dbus.String(dtype)})]
    _add(path, DEVICE_IFACE, props, methods, extra)
    devs = list(_mprop('AllDevices')) + [path]
    _update(MANAGER_OBJ, NM, {'Devices': dbus.Array(devs, signature='o'),
                              'AllDevices': dbus.Array(devs, signature='o')})
    _manager().EmitSignal(NM, 'DeviceAdded', 'o', [path])
    return path


def _remove_device(path):
    devs = [d for d in _mprop('AllDevices') if d != path]
    _update(MANAGER_OBJ, NM, {'Devices': dbus.Array(devs, signature='o'),
                              'AllDevices': dbus.Array(devs, signature='o')})
    _manager().EmitSignal(NM, 'DeviceRemoved', 'o', [path])
    _remove(path)


def _device_set_state(path, state, active=ROOT, ip4=ROOT, ip6=ROOT, ip_iface=''):
    old = _obj(path).Get(DEVICE_IFACE, 'State')
    _update(path, DEVICE_IFACE, {
        'State': _u(state),
        'StateReason': dbus.Struct((_u(state), _u(0)), signature='uu'),
        'ActiveConnection': active, 'Ip4Config': ip4, 'Ip6Config': ip6,
        'IpInterface': dbus.String(ip_iface)})
    _obj(path).EmitSignal(DEVICE_IFACE, 'StateChanged', 'uuu', [_u(state), _u(old), _u(0)])


def _device_reapply(self, connection, version_id, flags):
    _record(self.path, 'Reapply', [connection, version_id, flags])
    ac = self.Get(DEVICE_IFACE, 'ActiveConnection')
    if ac == ROOT or not _exists(ac):
        raise dbus.exceptions.DBusException('device is not activated',
                                            name=NM + '.Device.NotActive')
    conn_path = _obj(ac).Get(ACTIVE_IFACE, 'Connection')
    settings = connection if len(connection) else _obj(conn_path).settings
    _obj(ac).applied = settings
    _apply_ip(ac, settings)


def _device_get_applied(self, flags):
    _record(self.path, 'GetAppliedConnection', [flags])
    ac = self.Get(DEVICE_IFACE, 'ActiveConnection')
    if ac == ROOT or not _exists(ac):
        raise dbus.exceptions.DBusException('device is not activated',
                                            name=NM + '.Device.NotActive')
    return (getattr(_obj(ac), 'applied', {}), dbus.UInt64(1))


def _device_disconnect(self):
    _record(self.path, 'Disconnect', [])
    ac = self.Get(DEVICE_IFACE, 'ActiveConnection')
    if ac != ROOT and _exists(ac):
        _deactivate(ac)


# Settings connections -----------------------------------------------------------------

def _conn_settings_get(settings, group, key, default=None):
    try:
        return settings[group][key]
    except KeyError:
        return default


def _conn_by_uuid(uuid):
    for path in _obj(SETTINGS_OBJ).Get(SETTINGS_IFACE, 'Connections'):
        if _exists(path) and str(_conn_settings_get(_obj(path).settings, 'connection',
                                                    'uuid', '')) == uuid:
            return path
    return None


def _add_connection(settings, flags=0):
    settings = dbus.Dictionary({dbus.String(g): dbus.Dictionary(v, signature='sv')
                                for g, v in settings.items()}, signature='sa{sv}')
    con = settings.setdefault('connection', dbus.Dictionary({}, signature='sv'))
    if 'uuid' not in con:
        import uuid
        con['uuid'] = dbus.String(str(uuid.uuid4()))
    if _conn_by_uuid(str(con['uuid'])):
        raise dbus.exceptions.DBusException(
            'A connection with UUID %s already exists' % con['uuid'],
            name=NM + '.Settings.UuidExists')
    path = _next('Settings')
    unsaved = bool(flags & 0x2)
    _add(path, CONN_IFACE,
         {'Unsaved': dbus.Boolean(unsaved), 'Flags': _u(1 if unsaved else 0),
          'Filename': dbus.String('' if unsaved else
                                  '/etc/NetworkManager/system-connections/%s.nmconnection'
                                  % con.get('id', 'x'))},
         [('Delete', '', '', _conn_delete),
          ('GetSettings', '', 'a{sa{sv}}', _conn_get_settings),
          ('GetSecrets', 's', 'a{sa{sv}}', lambda self, s: {}),
          ('ClearSecrets', '', '', ''),
          ('Save', '', '', ''),
          ('Update', 'a{sa{sv}}', '', _conn_update),
          ('UpdateUnsaved', 'a{sa{sv}}', '', _conn_update),
          ('Update2', 'a{sa{sv}}ua{sv}', 'a{sv}', _conn_update2)])
    obj = _obj(path)
    obj.settings = settings
    obj.add_flags = int(flags)
    sobj = _obj(SETTINGS_OBJ)
    conns = list(sobj.Get(SETTINGS_IFACE, 'Connections')) + [path]
    _update(SETTINGS_OBJ, SETTINGS_IFACE, {'Connections': dbus.Array(conns, signature='o')})
    sobj.EmitSignal(SETTINGS_IFACE, 'NewConnection', 'o', [path])
    return path


def _conn_get_settings(self):
    _record(self.path, 'GetSettings', [])
    return self.settings


def _conn_update(self, settings):
    _record(self.path, 'Update', [settings])
    self.settings = settings
    self.EmitSignal(CONN_IFACE, 'Updated', '', [])


def _conn_update2(self, settings, flags, args):
    _record(self.path, 'Update2', [settings, flags, args])
    if len(settings):
        self.settings = settings
    self.EmitSignal(CONN_IFACE, 'Updated', '', [])
    return dbus.Dictionary({}, signature='sv')


def _conn_delete(self):
    _record(self.path, 'Delete', [])
    _delete_connection(self.path)


def _delete_connection(path):
    for ac in list(_mprop('ActiveConnections')):
        if _exists(ac) and _obj(ac).Get(ACTIVE_IFACE, 'Connection') == path:
            _deactivate(ac)
    sobj = _obj(SETTINGS_OBJ)
    conns = [c for c in sobj.Get(SETTINGS_IFACE, 'Connections') if c != path]
    _update(SETTINGS_OBJ, SETTINGS_IFACE, {'Connections': dbus.Array(conns, signature='o')})
    _obj(path).EmitSignal(CONN_IFACE, 'Removed', '', [])
    sobj.EmitSignal(SETTINGS_IFACE, 'ConnectionRemoved', 'o', [path])
    _remove(path)


def _settings_add_connection2(self, settings, flags, args):
    _record(self.path, 'AddConnection2', [settings, flags, args])
    if not flags & 0x3:
        raise dbus.exceptions.DBusException('flags must contain TO_DISK or IN_MEMORY',
                                            name=NM + '.Settings.InvalidArguments')
    path = _add_connection(settings, flags)
    return (path, dbus.Dictionary({}, signature='sv'))


def _settings_add_connection(self, settings):
    _record(self.path, 'AddConnection', [settings])
    return _add_connection(settings, 0x1)


def _settings_add_connection_unsaved(self, settings):
    _record(self.path, 'AddConnectionUnsaved', [settings])
    return _add_connection(settings, 0x2)


def _settings_get_by_uuid(self, uuid):
    _record(self.path, 'GetConnectionByUuid', [uuid])
    path = _conn_by_uuid(str(uuid))
    if not path:
        raise dbus.exceptions.DBusException('No connection with the UUID was found.',
                                            name=NM + '.Settings.InvalidConnection')
    return path


def _settings_list(self):
    _record(self.path, 'ListConnections', [])
    return dbus.Array(self.Get(SETTINGS_IFACE, 'Connections'), signature='o')


# Active connections -------------------------------------------------------------------

def _ip_from_settings(settings):
    """(addresses, servers, searches, priority) from an ipv4 setting (NM D-Bus form)."""
    ip4 = settings.get('ipv4', {})
    addrs = []
    for a in ip4.get('address-data', []):
        addrs.append('%s/%d' % (a['address'], int(a['prefix'])))
    if not addrs:
        for a in ip4.get('addresses', []):
            addrs.append('%s/%d' % (_u32_to_ip4(a[0]), int(a[1])))
    servers = [str(s) for s in ip4.get('dns-data', [])]
    if not servers:
        servers = [_u32_to_ip4(s) for s in ip4.get('dns', [])]
    searches = [str(s) for s in ip4.get('dns-search', [])]
    prio = int(ip4.get('dns-priority', 0))
    return addrs, servers, searches, prio


def _apply_ip(ac, settings):
    """Re-derive an activated profile's IP4Config from its settings (Reapply)."""
    ip4 = _obj(ac).Get(ACTIVE_IFACE, 'Ip4Config')
    if ip4 == ROOT or not _exists(ip4):
        return
    addrs, servers, searches, prio = _ip_from_settings(settings)
    _update(ip4, IP4_IFACE, _ip4_props(addrs, '', servers, [], searches, prio))
    _refresh_dns()


def _new_active(conn_path, device, ip4, ip6, vpn=False, state=AC_ACTIVATED, default=False):
    settings = _obj(conn_path).settings
    con = settings['connection']
    path = _next('ActiveConnection')
    props = {
        'Connection': dbus.ObjectPath(conn_path),
        'SpecificObject': ROOT,
        'Id': dbus.String(con.get('id', '')),
        'Uuid': dbus.String(con['uuid']),
        'Type': dbus.String(con.get('type', '')),
        'Devices': dbus.Array([device] if device else [], signature='o'),
        'State': _u(state),
        'StateFlags': _u(0x4 | 0x8 if state == AC_ACTIVATED else 0),
        'Default': dbus.Boolean(default),
        'Ip4Config': ip4 or ROOT,
        'Dhcp4Config': ROOT,
        'Default6': dbus.Boolean(False),
        'Ip6Config': ip6 or ROOT,
        'Dhcp6Config': ROOT,
        'Vpn': dbus.Boolean(vpn),
        'Master': ROOT,
    }
    extra = []
    if vpn:
        extra = [(VPN_IFACE, {'VpnState': _u(5), 'Banner': dbus.String('')})]
    obj = _add(path, ACTIVE_IFACE, props, [], extra)
    obj.applied = settings
    obj.device = device
    acs = list(_mprop('ActiveConnections')) + [path]
    _update(MANAGER_OBJ, NM, {'ActiveConnections': dbus.Array(acs, signature='o')})
    obj.EmitSignal(ACTIVE_IFACE, 'StateChanged', 'uu', [_u(state), _u(0)])
    if vpn:
        obj.EmitSignal(VPN_IFACE, 'VpnStateChanged', 'uu', [_u(5), _u(0)])
    return path


def _deactivate(ac):
    obj = _obj(ac)
    _update(ac, ACTIVE_IFACE, {'State': _u(AC_DEACTIVATED), 'StateFlags': _u(0)})
    obj.EmitSignal(ACTIVE_IFACE, 'StateChanged', 'uu', [_u(AC_DEACTIVATED), _u(2)])
    acs = [a for a in _mprop('ActiveConnections') if a != ac]
    upd = {'ActiveConnections': dbus.Array(acs, signature='o')}
    if _mprop('PrimaryConnection') == ac:
        upd['PrimaryConnection'] = ROOT
        upd['PrimaryConnectionType'] = dbus.String('')
    _update(MANAGER_OBJ, NM, upd)
    dev = getattr(obj, 'device', None)
    virtual = getattr(obj, 'virtual_device', False)
    ip4 = obj.Get(ACTIVE_IFACE, 'Ip4Config')
    ip6 = obj.Get(ACTIVE_IFACE, 'Ip6Config')
    if dev and _exists(dev):
        if virtual:
            _remove_device(dev)
        else:
            _device_set_state(dev, DEVICE_DISCONNECTED)
    conn = obj.Get(ACTIVE_IFACE, 'Connection')
    _remove(ac)
    for p in (ip4, ip6):
        if p != ROOT:
            _remove(p)
    _refresh_dns()
    # NM deletes a volatile profile once its activation is gone
    if _exists(conn) and getattr(_obj(conn), 'volatile', False):
        _delete_connection(conn)


def _manager_activate(self, conn_path, dev_path, specific):
    _record(self.path, 'ActivateConnection', [conn_path, dev_path, specific])
    return _activate(conn_path, dev_path)


def _manager_reload(self, flags):
    """NM's Reload: with NM_MANAGER_RELOAD_FLAG_DNS_RC (0x2) or 0 (everything),
    resolv.conf is written again from the DNS configuration (when the mock writes it)."""
    _record(self.path, 'Reload', [flags])
    if int(flags) == 0 or int(flags) & 0x2:
        _refresh_dns()


def _activate(conn_path, dev_path):
    if conn_path == ROOT or not _exists(conn_path) or not hasattr(_obj(conn_path), 'settings'):
        raise dbus.exceptions.DBusException('Connection %s is not known' % conn_path,
                                            name=NM + '.Manager.UnknownConnection')
    settings = _obj(conn_path).settings
    con = settings['connection']
    for ac in list(_mprop('ActiveConnections')):
        # NM re-activates: the old activation goes away first (and DNS leaks meanwhile:
        # steer.md measured 10-25 ms; DdrReactivations() lets tests catch it)
        if _exists(ac) and _obj(ac).Get(ACTIVE_IFACE, 'Connection') == conn_path:
            _state['reactivations'].append(str(con['uuid']))
            _deactivate(ac)
    ctype = str(con.get('type', ''))
    iface = str(con.get('interface-name', ''))
    virtual = False
    if dev_path != ROOT:
        device = dev_path
    elif iface and _find_device(iface):
        device = _find_device(iface)
    elif ctype in ('dummy', 'veth', 'generic') and iface:
        device = _device(iface, ctype)
        virtual = True
    else:
        raise dbus.exceptions.DBusException('No suitable device found for this connection.',
                                            name=NM + '.Manager.UnknownDevice')
    addrs, servers, searches, prio = _ip_from_settings(settings)
    ip4 = _next('IP4Config')
    _add(ip4, IP4_IFACE, _ip4_props(addrs, '', servers, [], searches, prio))
    never_default = bool(settings.get('ipv4', {}).get('never-default', False))
    ac = _new_active(conn_path, device, ip4, None, default=not never_default)
    _obj(ac).virtual_device = virtual
    _device_set_state(device, DEVICE_ACTIVATED, active=ac, ip4=ip4, ip_iface=iface)
    _refresh_dns()
    return ac


# AddAndActivateConnection2 (NM >= 1.16), offered only after DdrSetAddAndActivate2('works'
# or 'refuse'): without it the mock is an NM whose introspection lacks the method.
_AAC2 = 'AddAndActivateConnection2'


def _aac2_filter(bus, msg):
    # dbus-python gives methods no sender: remember it for bind-activation=dbus-client
    if msg.get_type() == dbus.lowlevel.MESSAGE_TYPE_METHOD_CALL and msg.get_member() == _AAC2:
        _state['aac2_sender'] = msg.get_sender()
    return dbus.lowlevel.HANDLER_RESULT_NOT_YET_HANDLED    # None would swallow every call


def _bind_to_client(ac, sender):
    def owner_changed(new_owner):
        if not new_owner and _exists(ac) and ac in _mprop('ActiveConnections'):
            _record(MANAGER_OBJ, 'BoundClientVanished', [sender])
            _deactivate(ac)
    _state.setdefault('aac2_watches', []).append(
        _manager().connection.watch_name_owner(sender, owner_changed))


def _manager_add_and_activate2(self, settings, dev_path, specific, options):
    """NM 1.42's rules for a software link (steer.md §2.4): the device must be known
    (realized, or a profile with that interface-name exists); a veth needs its pair to
    exist and must not name the peer."""
    _record(self.path, _AAC2, [settings, dev_path, specific, options])
    if _state.get('aac2') == 'refuse':
        raise dbus.exceptions.DBusException('Failed to find a compatible device for this '
                                            'connection', name=NM + '.UnknownDevice')
    con = settings.get('connection', {})
    ctype, iface = str(con.get('type', '')), str(con.get('interface-name', ''))
    device = _find_device(iface) if iface else None
    known = device or any(
        _exists(c) and str(_conn_settings_get(_obj(c).settings, 'connection',
                                              'interface-name', '')) == iface
        for c in _obj(SETTINGS_OBJ).Get(SETTINGS_IFACE, 'Connections'))
    if dev_path == ROOT and not known:
        raise dbus.exceptions.DBusException('Failed to find a compatible device for this '
                                            'connection', name=NM + '.UnknownDevice')
    if ctype == 'veth' and not device:
        raise dbus.exceptions.DBusException('cannot find peer for veth device',
                                            name=NM + '.Settings.Connection.InvalidProperty')
    if ctype == 'veth' and 'veth' in settings:
        raise dbus.exceptions.DBusException('mismatching veth peer "%s"'
                                            % settings['veth'].get('peer', ''),
                                            name=NM + '.Settings.Connection.InvalidProperty')
    persist = str(options.get('persist', 'disk'))
    path = _add_connection(settings, 0x1 if persist == 'disk' else 0x2)
    if persist == 'volatile':
        _obj(path).volatile = True
        _update(path, CONN_IFACE, {'Flags': _u(0x1 | 0x4)})
    if device:
        # the new activation takes the device over from the one active on it
        old = _obj(device).Get(DEVICE_IFACE, 'ActiveConnection')
        if old != ROOT and _exists(old):
            _deactivate(old)
    try:
        ac = _activate(path, dev_path)
    except dbus.exceptions.DBusException:
        _delete_connection(path)
        raise
    if str(options.get('bind-activation', 'none')) == 'dbus-client':
        _bind_to_client(ac, _state.get('aac2_sender'))
    return (path, ac, dbus.Dictionary({}, signature='sv'))


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def DdrSetAddAndActivate2(self, mode):
    """'works': Manager.AddAndActivateConnection2 is offered (persist, bind-activation);
    'refuse': offered, but every call fails (UnknownDevice)."""
    _state['aac2'] = str(mode)
    manager = _manager()
    if not _state.get('aac2_filter'):
        manager.connection.add_message_filter(_aac2_filter)
        _state['aac2_filter'] = True
    manager.AddMethod(NM, _AAC2, 'a{sa{sv}}ooa{sv}', 'ooa{sv}', _manager_add_and_activate2)


def _manager_deactivate(self, ac):
    _record(self.path, 'DeactivateConnection', [ac])
    if ac not in _mprop('ActiveConnections') or not _exists(ac):
        raise dbus.exceptions.DBusException('The connection was not active.',
                                            name=NM + '.Manager.ConnectionNotActive')
    _deactivate(ac)


def _manager_check_connectivity(self):
    _record(self.path, 'CheckConnectivity', [])
    if _state['check_result'] >= 0:
        _set_connectivity(_state['check_result'])
        _state['check_result'] = -1
    return _u(_mprop('Connectivity'))


def _manager_get_device_by_ip_iface(self, iface):
    _record(self.path, 'GetDeviceByIpIface', [iface])
    path = _find_device(str(iface))
    if not path:
        raise dbus.exceptions.DBusException('No device found for the requested iface.',
                                            name=NM + '.Manager.UnknownDevice')
    return path


# Networks (test side controls) --------------------------------------------------------

def _refresh_dns():
    """DnsManager.Configuration, as NM publishes it, from the active IP configs."""
    entries = []
    for ac in _mprop('ActiveConnections'):
        if not _exists(ac):
            continue
        a = _obj(ac)
        ip4 = a.Get(ACTIVE_IFACE, 'Ip4Config')
        if ip4 == ROOT or not _exists(ip4):
            continue
        p = _obj(ip4).GetAll(IP4_IFACE)
        servers = [str(d['address']) for d in p['NameserverData']]
        if not servers:
            continue
        devs = a.Get(ACTIVE_IFACE, 'Devices')
        iface = str(_obj(devs[0]).Get(DEVICE_IFACE, 'Interface')) if devs and _exists(devs[0]) else ''
        entries.append(dbus.Dictionary({
            'nameservers': _strs(servers),
            'domains': _strs(list(p['Domains']) + list(p['Searches'])),
            'interface': dbus.String(iface),
            'priority': dbus.Int32(p['DnsPriority']),
            'vpn': dbus.Boolean(a.Get(ACTIVE_IFACE, 'Vpn')),
        }, signature='sv'))
    entries.sort(key=lambda e: int(e['priority']))
    _update(DNS_OBJ, DNS_IFACE, {'Configuration': dbus.Array(entries, signature='a{sv}')})
    _write_resolv_conf(entries)


def _write_resolv_conf(entries):
    """NM's resolv.conf (dns=default): servers by priority; a negative priority keeps
    only the configurations of the lowest priority. Written in place (the tests
    bind-mount the file, so no rename), at a length that changes with every write:
    glibc reloads resolv.conf when its size or mtime changes, and two writes within
    one clock tick have the same mtime."""
    path = _state.get('resolv_conf')
    if not path:
        return
    if entries and int(entries[0]['priority']) < 0:
        entries = [e for e in entries if int(e['priority']) == int(entries[0]['priority'])]
    servers = []
    for e in entries:
        servers += [str(s) for s in e['nameservers'] if str(s) not in servers]
    write_resolv_conf_file(path, servers[:3], 'the NM mock')


def write_resolv_conf_file(path, servers, writer):
    _state['resolv_seq'] = _state.get('resolv_seq', 0) + 1
    text = '# written by %s (%d)\n' % (writer, _state['resolv_seq'])
    text += ''.join('nameserver %s\n' % s for s in servers)
    text += 'options timeout:1 attempts:1\n#'
    # everything past byte 256 is one comment line, so a reader between the write
    # and the truncate sees a valid file
    data = (text + 'x' * (256 + _state['resolv_seq'] % 61 - len(text))).encode()
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, data, 0)
        os.ftruncate(fd, len(data))
    finally:
        os.close(fd)


def _set_connectivity(c, ip6=None):
    c = int(c)
    primary = _mprop('PrimaryConnection')
    if primary != ROOT and _exists(primary):
        for dev in _obj(primary).Get(ACTIVE_IFACE, 'Devices'):
            upd = {'Ip4Connectivity': _u(c)}
            if ip6 is not None:
                upd['Ip6Connectivity'] = _u(ip6)
            _update(dev, DEVICE_IFACE, upd)
    state = NM_STATE_FOR_CONNECTIVITY[c] if primary != ROOT else 20
    old_state = int(_mprop('State'))
    _update(MANAGER_OBJ, NM, {'Connectivity': _u(c), 'State': _u(state)})
    if old_state != state:
        _manager().EmitSignal(NM, 'StateChanged', 'u', [_u(state)])


def _spec_list(spec, key):
    return [str(x) for x in spec.get(key, [])]


@dbus.service.method(MOCK_IFACE, in_signature='a{sv}', out_signature='o')
def DdrAddNetwork(self, spec):
    '''A connected Ethernet/Wi-Fi network: device + profile + IP4Config + active
    connection. spec: id, uuid, iface, type (802-11-wireless | 802-3-ethernet),
    servers (as), domains (as), searches (as), address (s "a.b.c.d/n"), gateway,
    connectivity (u), primary (b, default true).'''
    ctype = str(spec.get('type', '802-11-wireless'))
    iface = str(spec.get('iface', 'wlan0'))
    settings = {'connection': {'id': dbus.String(spec.get('id', iface)),
                               'uuid': dbus.String(spec['uuid']),
                               'type': dbus.String(ctype),
                               'interface-name': dbus.String(iface)},
                'ipv4': {'method': dbus.String('auto')}}
    conn = _add_connection(settings, 0x1)
    device = _device(iface, ctype)
    servers = _spec_list(spec, 'servers')
    address = str(spec.get('address', '192.168.77.2/24'))
    gateway = str(spec.get('gateway', '192.168.77.1'))
    ip4 = _next('IP4Config')
    _add(ip4, IP4_IFACE, _ip4_props([address], gateway, servers,
                                    _spec_list(spec, 'domains'), _spec_list(spec, 'searches'),
                                    int(spec.get('dns_priority', 100))))
    ip6 = _next('IP6Config')
    _add(ip6, IP6_IFACE, _ip6_props(servers, _spec_list(spec, 'domains')))
    ac = _new_active(conn, device, ip4, ip6, default=True)
    _device_set_state(device, DEVICE_ACTIVATED, active=ac, ip4=ip4, ip6=ip6, ip_iface=iface)
    dev_conns = dbus.Array([conn], signature='o')
    _update(device, DEVICE_IFACE, {'AvailableConnections': dev_conns,
                                   'Ip6Connectivity': _u(int(spec.get('ip6_connectivity', 1)))})
    if bool(spec.get('primary', True)):
        _update(MANAGER_OBJ, NM, {'PrimaryConnection': ac,
                                  'PrimaryConnectionType': dbus.String(ctype)})
    _set_connectivity(int(spec.get('connectivity', 4)))
    _refresh_dns()
    return ac


@dbus.service.method(MOCK_IFACE, in_signature='a{sv}', out_signature='o')
def DdrAddVpn(self, spec):
    '''An active VPN connection on its own device with its own DNS servers and
    domains. spec: id, uuid, iface, servers, domains, type: 'vpn' (default: a VPN
    plugin - Vpn true, VPN.Connection interface, a tun device) or a device VPN
    ('wireguard', 'tun', 'ip-tunnel': a plain device connection of that type, Vpn
    false, as NetworkManager shows its native WireGuard).'''
    iface = str(spec.get('iface', 'tun0'))
    vtype = str(spec.get('type', 'vpn'))
    settings = {'connection': {'id': dbus.String(spec.get('id', 'vpn')),
                               'uuid': dbus.String(spec['uuid']),
                               'type': dbus.String(vtype)},
                'ipv4': {'method': dbus.String('auto')}}
    if vtype == 'vpn':
        settings['vpn'] = {'service-type': dbus.String('org.freedesktop.NetworkManager.openvpn')}
    conn = _add_connection(settings, 0x1)
    device = _device(iface, 'tun' if vtype == 'vpn' else vtype)
    servers = _spec_list(spec, 'servers')
    ip4 = _next('IP4Config')
    _add(ip4, IP4_IFACE, _ip4_props([str(spec.get('address', '10.8.0.2/24'))], '', servers,
                                    _spec_list(spec, 'domains'), [], 50))
    ac = _new_active(conn, device, ip4, None, vpn=vtype == 'vpn')
    _device_set_state(device, DEVICE_ACTIVATED, active=ac, ip4=ip4, ip_iface=iface)
    _refresh_dns()
    return ac


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def DdrRemoveNetwork(self, uuid):
    '''The network (or VPN) with this UUID goes away: deactivated, device
    disconnected, profile deleted; connectivity NONE when it was the primary.'''
    path = _conn_by_uuid(str(uuid))
    if not path:
        raise dbus.exceptions.DBusException('no connection ' + uuid,
                                            name='org.freedesktop.DBus.Mock.NameError')
    was_primary = False
    for ac in list(_mprop('ActiveConnections')):
        if _exists(ac) and _obj(ac).Get(ACTIVE_IFACE, 'Connection') == path:
            was_primary = was_primary or _mprop('PrimaryConnection') == ac
    _delete_connection(path)
    if was_primary:
        _set_connectivity(1)


@dbus.service.method(MOCK_IFACE, in_signature='sas', out_signature='')
def DdrSetServers(self, uuid, servers):
    '''The same network (same connection, same device) gets a new DNS server list,
    IPv4 and IPv6 (a late IPv6 router advertisement, a DHCP renewal): its IP4Config
    and IP6Config change in place.'''
    path = _conn_by_uuid(str(uuid))
    servers = [str(s) for s in servers]
    for ac in list(_mprop('ActiveConnections')):
        if not _exists(ac) or _obj(ac).Get(ACTIVE_IFACE, 'Connection') != path:
            continue
        ip4 = _obj(ac).Get(ACTIVE_IFACE, 'Ip4Config')
        ip6 = _obj(ac).Get(ACTIVE_IFACE, 'Ip6Config')
        if ip4 != ROOT and _exists(ip4):
            p = _ip4_props([], '', servers, [], [], 100)
            _update(ip4, IP4_IFACE, {k: p[k] for k in ('NameserverData', 'Nameservers')})
        if ip6 != ROOT and _exists(ip6):
            _update(ip6, IP6_IFACE, {'Nameservers': _ip6_props(servers, [])['Nameservers']})


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='')
def DdrSetResolvConf(self, path):
    '''Write `path` from the DNS configuration from now on ('' = never).'''
    _state['resolv_conf'] = str(path)
    _refresh_dns()


@dbus.service.method(MOCK_IFACE, in_signature='sa{sv}', out_signature='')
def DdrRenewLease(self, uuid, spec):
    '''A DHCP renewal of the active network with this UUID: the same active connection
    and device, its IP4Config gets spec's address (s "a.b.c.d/n") and/or servers
    (as), its IP6Config the IPv6 servers servers6 (as: a late IPv6 server list), each
    with PropertiesChanged; the DNS configuration follows.'''
    for ac in list(_mprop('ActiveConnections')):
        if not _exists(ac) or str(_obj(ac).Get(ACTIVE_IFACE, 'Uuid')) != str(uuid):
            continue
        ip4 = _obj(ac).Get(ACTIVE_IFACE, 'Ip4Config')
        if ip4 == ROOT or not _exists(ip4):
            continue
        p = _obj(ip4).GetAll(IP4_IFACE)
        addr = str(spec.get('address', '%s/%d' % (p['AddressData'][0]['address'],
                                                   int(p['AddressData'][0]['prefix']))))
        servers = _spec_list(spec, 'servers') if 'servers' in spec else \
            [str(d['address']) for d in p['NameserverData']]
        _update(ip4, IP4_IFACE, _ip4_props([addr], str(p.get('Gateway', '')), servers,
                                           list(p['Domains']), list(p['Searches']),
                                           int(p['DnsPriority'])))
        ip6 = _obj(ac).Get(ACTIVE_IFACE, 'Ip6Config')
        if 'servers6' in spec and ip6 != ROOT and _exists(ip6):
            _update(ip6, IP6_IFACE, _ip6_props(_spec_list(spec, 'servers6'),
                                               list(p['Domains'])))
        _refresh_dns()
        return
    raise dbus.exceptions.DBusException('no active connection ' + uuid,
                                        name='org.freedesktop.DBus.Mock.NameError')


@dbus.service.method(MOCK_IFACE, in_signature='u', out_signature='')
def DdrSetConnectivity(self, c):
    '''NM's connectivity verdict: the primary device's Ip4Connectivity and the
    manager's Connectivity (and State), each with PropertiesChanged.'''
    _set_connectivity(c)


@dbus.service.method(MOCK_IFACE, in_signature='i', out_signature='')
def DdrSetCheckResult(self, c):
    '''What the next Manager.CheckConnectivity() finds (-1: no change).'''
    _state['check_result'] = int(c)


@dbus.service.method(MOCK_IFACE, in_signature='bs', out_signature='')
def DdrSetConnectivityCheck(self, available, uri):
    _update(MANAGER_OBJ, NM, {'ConnectivityCheckAvailable': dbus.Boolean(available),
                              'ConnectivityCheckEnabled': dbus.Boolean(available),
                              'ConnectivityCheckUri': dbus.String(uri)})


@dbus.service.method(MOCK_IFACE, in_signature='s', out_signature='a(dsav)')
def DdrGetCalls(self, method):
    '''(unix time, object path, args) of every call of method ('' = all, then the
    method name is the first arg).'''
    out = []
    for t, path, m, args in _state['calls']:
        if method and m != method:
            continue
        a = list(args) if method else [m] + list(args)
        out.append(dbus.Struct((dbus.Double(t), dbus.String(path),
                                dbus.Array(a, signature='v')), signature='dsav'))
    return dbus.Array(out, signature='(dsav)')


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='')
def DdrClearCalls(self):
    _state['calls'] = []


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='as')
def DdrReactivations(self):
    return dbus.Array(_state['reactivations'], signature='s')


@dbus.service.method(MOCK_IFACE, in_signature='', out_signature='as')
def DdrActiveUuids(self):
    return dbus.Array([str(_obj(a).Get(ACTIVE_IFACE, 'Uuid'))
                       for a in _mprop('ActiveConnections') if _exists(a)], signature='s')


def load(mock, parameters):
    _nmt.load(mock, parameters)
    manager = _manager()
    manager.AddProperties(NM, {
        'AllDevices': dbus.Array([], signature='o'),
        'Checkpoints': dbus.Array([], signature='o'),
        'PrimaryConnection': ROOT,
        'PrimaryConnectionType': dbus.String(''),
        'ActivatingConnection': ROOT,
        'Metered': _u(4),
        'Capabilities': dbus.Array([], signature='u'),
        'RadioFlags': _u(0),
        'ConnectivityCheckAvailable': dbus.Boolean(True),
        'ConnectivityCheckEnabled': dbus.Boolean(True),
        'ConnectivityCheckUri': dbus.String(parameters.get(
            'ConnectivityCheckUri', 'http://nmcheck.gnome.org/check_network_status.txt')),
        'GlobalDnsConfiguration': dbus.Dictionary({}, signature='sv'),
    })
    # the stock template starts at FULL with no network: start disconnected instead
    manager.props[NM]['Connectivity'] = _u(1)
    manager.props[NM]['State'] = _u(20)
    manager.props[NM]['Version'] = dbus.String(parameters.get('Version', '1.42.4'))
    manager.props[NM]['WimaxEnabled'] = dbus.Boolean(False)
    manager.props[NM]['WimaxHardwareEnabled'] = dbus.Boolean(False)
    for name, sig_in, sig_out, fn in [
            ('ActivateConnection', 'ooo', 'o', _manager_activate),
            ('DeactivateConnection', 'o', '', _manager_deactivate),
            ('CheckConnectivity', '', 'u', _manager_check_connectivity),
            ('Reload', 'u', '', _manager_reload),
            ('GetDeviceByIpIface', 's', 'o', _manager_get_device_by_ip_iface),
            ('GetAllDevices', '', 'ao', lambda self: _mprop('AllDevices')),
            ('GetDevices', '', 'ao', lambda self: _mprop('Devices'))]:
        manager.AddMethod(NM, name, sig_in, sig_out, fn)
    settings = _obj(SETTINGS_OBJ)
    for name, sig_in, sig_out, fn in [
            ('AddConnection2', 'a{sa{sv}}ua{sv}', 'oa{sv}', _settings_add_connection2),
            ('AddConnection', 'a{sa{sv}}', 'o', _settings_add_connection),
            ('AddConnectionUnsaved', 'a{sa{sv}}', 'o', _settings_add_connection_unsaved),
            ('GetConnectionByUuid', 's', 'o', _settings_get_by_uuid),
            ('ListConnections', '', 'ao', _settings_list)]:
        settings.AddMethod(SETTINGS_IFACE, name, sig_in, sig_out, fn)
    _add(DNS_OBJ, DNS_IFACE, {'Mode': dbus.String('default'),
                              'RcManager': dbus.String('unmanaged'),
                              'Configuration': dbus.Array([], signature='a{sv}')})
