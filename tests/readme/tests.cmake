# The README's code snippets are exactly the compiled example regions.
add_test(NAME readme.snippets
         COMMAND python3 ${CMAKE_CURRENT_LIST_DIR}/check_snippets.py ${PROJECT_SOURCE_DIR})
