#include "protocol/stomp_parser.hpp"
