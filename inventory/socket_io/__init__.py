"""The live feed in the Socket.IO protocol the seed documents, at ``/socket.io/`` (README, "Socket.IO").

``server`` holds the python-socketio server and its event handlers, ``auth`` the handshake's
credentials, ``protocol`` what the events carry, ``bridge`` how Channels groups reach Socket.IO
clients, and ``workers`` how requests of one Engine.IO session find the worker process that owns it.
"""
