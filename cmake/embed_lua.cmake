# Compiles one Lua file to a C array of LuaJIT bytecode plus its size.
# cmake -DLUAJIT=... -DSRC=... -DOUT=... -DMODNAME=... -DCNAME=... -P embed_lua.cmake
execute_process(COMMAND ${LUAJIT} -b -g -n ${MODNAME} ${SRC} ${OUT}
                RESULT_VARIABLE rc ERROR_VARIABLE msg)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "luajit -b ${SRC}: ${msg}")
endif()
file(APPEND ${OUT} "const unsigned long luaJIT_BC_${CNAME}_SIZE = sizeof(luaJIT_BC_${CNAME});\n")
