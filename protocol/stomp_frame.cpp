#include "protocol/stomp_frame.hpp"
