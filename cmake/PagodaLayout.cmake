# The install layout, computed once (docs/operations.md, "Install layout").
#
# Every directory is given three ways:
#   PAGODA_<X>_DEST     the install() DESTINATION: relative to the prefix when
#                       the GNU directory lies under it (so `cmake --install
#                       --prefix ANY` relocates it), absolute when it does not
#                       (prefix /usr: /etc/pagoda, /var/lib/pagoda);
#   PAGODA_<X>_FULL     the absolute location for the configured prefix
#                       (compiled in: the daemon's last resort);
#   PAGODA_REL_<X>      the path from the installed bindir to it (compiled
#                       in: the daemon looks there first, relative to its own
#                       executable).
# X = PLUGIN (lib/pagoda/plugins), CONSOLE (share/pagoda/console),
#     CONF (etc/pagoda: pagoda.conf, balancers/, hooks/), STATE
#     (var/lib/pagoda), COMPLETION (share/bash-completion/completions),
#     SYSTEMD (lib/systemd/system).
include(GNUInstallDirs)

function(_pagoda_place var rel full)
  string(REGEX REPLACE "/$" "" _prefix "${CMAKE_INSTALL_PREFIX}")
  string(FIND "${full}/" "${_prefix}/" _at)
  if(_at EQUAL 0)
    set(PAGODA_${var}_DEST "${rel}" PARENT_SCOPE)
  else()
    set(PAGODA_${var}_DEST "${full}" PARENT_SCOPE)
  endif()
  set(PAGODA_${var}_FULL "${full}" PARENT_SCOPE)
  file(RELATIVE_PATH _r "${CMAKE_INSTALL_FULL_BINDIR}" "${full}")
  set(PAGODA_REL_${var} "${_r}" PARENT_SCOPE)
endfunction()

_pagoda_place(PLUGIN  "${CMAKE_INSTALL_LIBDIR}/pagoda/plugins"  "${CMAKE_INSTALL_FULL_LIBDIR}/pagoda/plugins")
_pagoda_place(CONSOLE "${CMAKE_INSTALL_DATADIR}/pagoda/console" "${CMAKE_INSTALL_FULL_DATADIR}/pagoda/console")
_pagoda_place(CONF    "${CMAKE_INSTALL_SYSCONFDIR}/pagoda"      "${CMAKE_INSTALL_FULL_SYSCONFDIR}/pagoda")
_pagoda_place(STATE   "${CMAKE_INSTALL_LOCALSTATEDIR}/lib/pagoda" "${CMAKE_INSTALL_FULL_LOCALSTATEDIR}/lib/pagoda")
_pagoda_place(COMPLETION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
              "${CMAKE_INSTALL_FULL_DATADIR}/bash-completion/completions")
# systemd's unit directory is /lib/systemd/system on Debian whatever the
# prefix (units in /usr/local are not read): relative only for other prefixes.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(PAGODA_SYSTEMD_DEST "/lib/systemd/system")
else()
  set(PAGODA_SYSTEMD_DEST "lib/systemd/system")
endif()
